"""The status page's queries: its own tables, and the public slices of incidents, timelines,
checks and rollups it shows.

"Public" is decided here in SQL as far as it can be: an incident is on the page when it
is not a drill and has at least one update posted with `{"public": true}`; of its
timeline only those updates and its status moves are read, and of those only the
columns the page prints (never the actor's name).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.orm import Session, selectinload

from tocsin.domain.incidents import CLOSED_STATUSES
from tocsin.domain.timeline import EntryKind
from tocsin.storage import models

SETTINGS_ID = 1
_CLOSED = [status.value for status in CLOSED_STATUSES]


# ---- the page's own tables ---------------------------------------------------------------


def settings(session: Session) -> models.StatusPageSettings | None:
    return session.get(models.StatusPageSettings, SETTINGS_ID)


def bump(session: Session, now: datetime) -> None:
    """Tell every process's cache that the page changed (creating the settings row if needed)."""
    row = settings(session)
    if row is None:
        session.add(models.StatusPageSettings(id=SETTINGS_ID, name="", generation=1, updated_at=now))
        session.flush()
        return
    session.execute(
        update(models.StatusPageSettings)
        .where(models.StatusPageSettings.id == SETTINGS_ID)
        .values(generation=models.StatusPageSettings.generation + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def groups(session: Session) -> Sequence[models.StatusPageGroup]:
    return session.scalars(
        select(models.StatusPageGroup).order_by(models.StatusPageGroup.position, models.StatusPageGroup.id)
    ).all()


def group_by_key(session: Session, key: str) -> models.StatusPageGroup | None:
    return session.scalars(select(models.StatusPageGroup).where(models.StatusPageGroup.key == key)).one_or_none()


def components(session: Session) -> Sequence[models.StatusPageComponent]:
    return session.scalars(
        select(models.StatusPageComponent)
        .options(
            selectinload(models.StatusPageComponent.services),
            selectinload(models.StatusPageComponent.checks),
            selectinload(models.StatusPageComponent.group),
        )
        .order_by(models.StatusPageComponent.position, models.StatusPageComponent.id)
    ).all()


def component_by_key(session: Session, key: str) -> models.StatusPageComponent | None:
    return session.scalars(
        select(models.StatusPageComponent)
        .options(
            selectinload(models.StatusPageComponent.services),
            selectinload(models.StatusPageComponent.checks),
            selectinload(models.StatusPageComponent.group),
        )
        .where(models.StatusPageComponent.key == key)
    ).one_or_none()


def maintenances(session: Session, *, ending_after: datetime | None = None) -> Sequence[models.StatusPageMaintenance]:
    query = (
        select(models.StatusPageMaintenance)
        .options(selectinload(models.StatusPageMaintenance.components))
        .order_by(models.StatusPageMaintenance.starts_at, models.StatusPageMaintenance.id)
    )
    if ending_after is not None:
        query = query.where(
            models.StatusPageMaintenance.ends_at > ending_after, models.StatusPageMaintenance.canceled_at.is_(None)
        )
    return session.scalars(query).all()


def maintenance_by_id(session: Session, maintenance_id: int) -> models.StatusPageMaintenance | None:
    return session.get(models.StatusPageMaintenance, maintenance_id)


# ---- the public slices of incidents --------------------------------------------------------


def _public_update() -> ColumnElement[bool]:
    entry = models.TimelineEntry
    return and_(entry.kind == EntryKind.UPDATE.value, entry.data["public"].as_boolean().is_(True))


def _has_public_update() -> ColumnElement[bool]:
    entry = models.TimelineEntry
    return exists(select(entry.id).where(entry.incident_id == models.Incident.id, _public_update()))


def open_incidents_on(session: Session, service_ids: Iterable[int]) -> Sequence[Any]:
    """Open, non-drill incidents on any of these services: (incident id, service id, severity, status).
    Published or not: an outage shows on its components before anyone writes about it."""
    ids = list(service_ids)
    if not ids:
        return []
    incident = models.Incident
    link = models.IncidentService
    return session.execute(
        select(incident.id, link.service_id, incident.severity, incident.status)
        .join(link, link.incident_id == incident.id)
        .where(link.service_id.in_(ids), incident.drill.is_(False), incident.status.not_in(_CLOSED))
    ).all()


def public_incidents(
    session: Session, *, unresolved_only: bool = False, limit: int | None = None, offset: int = 0
) -> Sequence[models.Incident]:
    """Non-drill incidents with a public update, newest first."""
    query = (
        select(models.Incident)
        .options(selectinload(models.Incident.services))
        .where(models.Incident.drill.is_(False), _has_public_update())
        .order_by(models.Incident.declared_at.desc(), models.Incident.id.desc())
    )
    if unresolved_only:
        query = query.where(models.Incident.status.not_in(_CLOSED))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return session.scalars(query).all()


def count_public_incidents(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(models.Incident)
            .where(models.Incident.drill.is_(False), _has_public_update())
        )
        or 0
    )


def public_incident(session: Session, incident_id: int) -> models.Incident | None:
    return session.scalars(
        select(models.Incident)
        .options(selectinload(models.Incident.services))
        .where(models.Incident.id == incident_id, models.Incident.drill.is_(False), _has_public_update())
    ).one_or_none()


def public_incidents_between(session: Session, since: datetime) -> Sequence[Any]:
    """(incident id, declared, closed or None, severity) of the public incidents that were open after `since`."""
    incident = models.Incident
    closed = func.coalesce(incident.resolved_at, incident.canceled_at)
    return session.execute(
        select(incident.id, incident.declared_at, closed.label("closed_at"), incident.severity).where(
            incident.drill.is_(False), _has_public_update(), (closed.is_(None)) | (closed >= since)
        )
    ).all()


def incident_services(session: Session, incident_ids: Iterable[int]) -> Sequence[Any]:
    ids = list(incident_ids)
    if not ids:
        return []
    link = models.IncidentService
    return session.execute(select(link.incident_id, link.service_id).where(link.incident_id.in_(ids))).all()


def public_entries(session: Session, incident_ids: Iterable[int]) -> Sequence[Any]:
    """The public updates and status moves of these incidents, oldest first:
    (id, incident id, kind, at, summary, to-status). Never the actor, never other data."""
    ids = list(incident_ids)
    if not ids:
        return []
    entry = models.TimelineEntry
    return session.execute(
        select(entry.id, entry.incident_id, entry.kind, entry.at, entry.summary, entry.data["to"].as_string())
        .where(
            entry.incident_id.in_(ids),
            _public_update() | (entry.kind == EntryKind.STATUS.value),
        )
        .order_by(entry.at, entry.id)
    ).all()


def public_updates_after(session: Session, cursor: int, batch: int) -> Sequence[Any]:
    """Public updates past `cursor`, by id (the subscriber notices' reading): (id, incident id, at)."""
    entry = models.TimelineEntry
    return session.execute(
        select(entry.id, entry.incident_id, entry.at)
        .where(entry.id > cursor, _public_update())
        .order_by(entry.id)
        .limit(batch)
    ).all()


# ---- checks ------------------------------------------------------------------------------


def daily_rollups_since(
    session: Session, check_ids: Iterable[int], since: datetime
) -> list[tuple[int, date, int, int]]:
    """(check id, UTC day, runs, up runs) of these checks' days from `since`: summed by the
    database, so 90 days of hourly rollups come back as 90 rows per check."""
    ids = list(check_ids)
    if not ids:
        return []
    rollup = models.CheckRollup
    if session.get_bind().dialect.name == "postgresql":
        day: Any = func.to_char(func.timezone("UTC", rollup.hour), "YYYY-MM-DD")
    else:  # SQLite keeps the UTC time as text, 'YYYY-MM-DD HH:MM:SS…'
        day = func.substr(rollup.hour, 1, 10)
    rows = session.execute(
        select(rollup.check_id, day, func.sum(rollup.count), func.sum(rollup.up))
        .where(rollup.check_id.in_(ids), rollup.hour >= since)
        .group_by(rollup.check_id, day)
    ).all()
    return [
        (int(check_id), date.fromisoformat(str(text)), int(runs or 0), int(up or 0))
        for check_id, text, runs, up in rows
    ]


# ---- the cache's version stamp ---------------------------------------------------------------


def version(session: Session) -> tuple[Any, ...]:
    """Changes whenever something the page shows may have changed; one cheap round trip.

    The page's own generation (bumped by every change to its tables), the newest timeline
    entry and incident (every incident change writes an entry and touches `updated_at`),
    and the linked checks that are down."""
    link = models.StatusPageComponentCheck
    check = models.Check
    down = (check.status == "down", check.id.in_(select(link.check_id)))
    row = session.execute(
        select(
            select(models.StatusPageSettings.generation)
            .where(models.StatusPageSettings.id == SETTINGS_ID)
            .scalar_subquery(),
            select(func.max(models.TimelineEntry.id)).scalar_subquery(),
            select(func.max(models.Incident.id)).scalar_subquery(),
            select(func.max(models.Incident.updated_at)).scalar_subquery(),
            select(func.count(check.id)).where(*down).scalar_subquery(),
            select(func.sum(check.id)).where(*down).scalar_subquery(),
        )
    ).one()
    return tuple(row)
