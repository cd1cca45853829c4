"""The queries of the engine's escalation batch (`services.escalation_steps`), set-based.

Every read takes all the batch's rows at once (ids as one array parameter on
PostgreSQL, `bulk.among`), and every write is one statement for thousands of
rows: pages and acknowledge links in the driver's form (`bulk.insert_rows`), the
escalations that move alike in one UPDATE, a timeline line said on many
incidents in one INSERT … SELECT.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, insert, literal, select, update
from sqlalchemy.orm import Session, selectinload

from tocsin.storage import bulk, models

# Well under SQLite's limit of bound parameters in one statement (32,766).
_KEYS_PER_QUERY = 5000


class DueEscalation(NamedTuple):
    """A due escalation and what its pages say about its incident, as `due` selects them."""

    id: int
    incident_id: int
    policy_id: int | None
    severity: str
    started_at: datetime
    next_step: int
    next_due_at: datetime
    human_id: str
    title: str
    incident_severity: str
    incident_status: str
    acknowledged_at: datetime | None
    resolved_at: datetime | None


def _table(model: type[models.Base]) -> Table:
    return cast(Table, model.__table__)


def due(session: Session, now: datetime, batch: int, active: str, only: int | None) -> list[DueEscalation]:
    """The escalations in status `active` whose next step is due, oldest first; on PostgreSQL
    locked for this transaction and skipped by everyone else's (module docstring of the service)."""
    escalation, incident = models.Escalation, models.Incident
    query = (
        select(
            escalation.id,
            escalation.incident_id,
            escalation.policy_id,
            escalation.severity,
            escalation.started_at,
            escalation.next_step,
            escalation.next_due_at,
            incident.human_id,
            incident.title,
            incident.severity.label("incident_severity"),
            incident.status.label("incident_status"),
            incident.acknowledged_at,
            incident.resolved_at,
        )
        .join(incident, incident.id == escalation.incident_id)
        .where(escalation.status == active, escalation.next_due_at <= now)
        .order_by(escalation.next_due_at, escalation.id)
        .limit(batch)
    )
    if only is not None:
        query = query.where(escalation.id == only)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=escalation, skip_locked=True)
    return [DueEscalation._make(row) for row in session.execute(query)]


def existing_pages(session: Session, keys: Sequence[str]) -> set[str]:
    """Which of these idempotency keys have a notification row already."""
    found: set[str] = set()
    column = models.Notification.idempotency_key
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        found.update(session.scalars(select(column).where(bulk.among(column, chunk, session.get_bind().dialect))))
    return found


def services_of(session: Session, incident_ids: Sequence[int]) -> dict[int, list[tuple[str, bool]]]:
    """Incident id → its services' (key, emergency), in key order."""
    rows = session.execute(
        select(models.IncidentService.incident_id, models.Service.key, models.Service.emergency)
        .join(models.Service, models.Service.id == models.IncidentService.service_id)
        .where(bulk.among(models.IncidentService.incident_id, incident_ids, session.get_bind().dialect))
        .order_by(models.IncidentService.incident_id, models.Service.key)
    ).all()
    found: dict[int, list[tuple[str, bool]]] = {}
    for incident_id, key, emergency in rows:
        found.setdefault(incident_id, []).append((key, emergency))
    return found


def policies(session: Session, ids: set[int]) -> Sequence[models.EscalationPolicy]:
    if not ids:
        return []
    return session.scalars(
        select(models.EscalationPolicy)
        .where(models.EscalationPolicy.id.in_(ids))
        .options(selectinload(models.EscalationPolicy.levels))
    ).all()


def schedules(session: Session, keys: set[str]) -> Sequence[models.Schedule]:
    if not keys:
        return []
    return session.scalars(
        select(models.Schedule)
        .where(models.Schedule.key.in_(keys))
        .options(
            selectinload(models.Schedule.layers),
            selectinload(models.Schedule.overrides).selectinload(models.ScheduleOverride.user),
        )
    ).all()


def teams(session: Session, keys: set[str]) -> Sequence[models.Team]:
    if not keys:
        return []
    return session.scalars(
        select(models.Team)
        .where(models.Team.key.in_(keys))
        .options(selectinload(models.Team.members).selectinload(models.TeamMember.user))
    ).all()


def notification_rules(session: Session, user_ids: Sequence[int]) -> Sequence[models.NotificationRule]:
    """Each user's rules in the order they fire."""
    return session.scalars(
        select(models.NotificationRule)
        .where(models.NotificationRule.user_id.in_(user_ids))
        .order_by(models.NotificationRule.user_id, models.NotificationRule.delay_s, models.NotificationRule.id)
    ).all()


def quiet_hours(session: Session, user_ids: Sequence[int]) -> Sequence[models.QuietHours]:
    return session.scalars(select(models.QuietHours).where(models.QuietHours.user_id.in_(user_ids))).all()


def insert_pages(session: Session, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Notification rows in the driver's form; ON CONFLICT DO NOTHING is what makes a page one
    row, whatever else happens."""
    connection = session.connection()
    bulk.insert_rows(connection, _table(models.Notification), columns, rows, on_conflict="idempotency_key")


def insert_ack_links(session: Session, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        bulk.insert_rows(session.connection(), _table(models.AckLink), columns, rows)


def move(
    session: Session,
    ids: Sequence[int],
    *,
    active: str,
    was: int,
    to: int,
    due_at: datetime | None,
    status: str,
    now: datetime,
) -> None:
    """Escalations that took the same steps move together. The guard on next_step is belt and
    braces: the rows are the batch's own."""
    escalation = _table(models.Escalation)
    session.execute(
        update(escalation)
        .where(
            bulk.among(escalation.c.id, ids, session.get_bind().dialect),
            escalation.c.status == active,
            escalation.c.next_step == was,
        )
        .values(next_step=to, next_due_at=due_at, status=status, updated_at=now)
    )


def say_on_timelines(
    session: Session,
    incident_ids: Sequence[int],
    *,
    kind: str,
    at: datetime,
    actor_id: int | None,
    actor_name: str,
    summary: str,
    data: dict[str, Any],
) -> None:
    """One timeline entry, word for word, on each of these incidents: one INSERT … SELECT."""
    entries = _table(models.TimelineEntry)
    dialect = session.get_bind().dialect
    rows = (
        select(
            models.Incident.id,
            literal(kind, entries.c.kind.type),
            literal(at, entries.c.at.type),
            literal(actor_id, entries.c.actor_id.type),
            literal(actor_name, entries.c.actor_name.type),
            literal(summary, entries.c.summary.type),
            literal(data, entries.c.data.type),
        )
        .where(bulk.among(models.Incident.id, incident_ids, dialect))
        .order_by(models.Incident.id)
    )
    columns = ["incident_id", "kind", "at", "actor_id", "actor_name", "summary", "data"]
    session.execute(insert(entries).from_select(columns, rows))


def mark_changed(session: Session, incident_ids: Iterable[int], now: datetime) -> None:
    """Mark the incidents changed, as `timeline.add` does, except those a request is changing
    right now (it sets the time itself). Waiting for them would be a deadlock: the request
    locked its incident and waits for the batch's escalation row (`escalations.stop`)."""
    dialect = session.get_bind().dialect
    changed = select(models.Incident.id).where(bulk.among(models.Incident.id, sorted(incident_ids), dialect))
    if dialect.name == "postgresql":
        changed = changed.with_for_update(skip_locked=True)
    session.execute(
        update(models.Incident)
        .where(models.Incident.id.in_(changed.scalar_subquery()))
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
