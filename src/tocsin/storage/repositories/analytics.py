"""Read queries for the incident report (domain.analytics).

Incidents are read as one narrow row each (a median needs the values, and SQLite has no
percentile function); a year of a busy team's incidents is ~10,000 such rows. Everything
larger is counted in SQL: response targets grouped by severity, kind and status, and
pages grouped by person and escalation step, so a storm of notifications is never read
row by row. Canceled incidents (false alarms) are left out, and drills (`incidents.drill`)
unless asked for.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from tocsin.domain import analytics as domain
from tocsin.storage.models import (
    ActionItem,
    Incident,
    IncidentService,
    Notification,
    ResponseTarget,
    Service,
    Team,
    User,
)

# Notification statuses of a page that was (or is being) sent; `canceled` pages were stopped
# by an acknowledgement before they went out, so nobody was woken by them. Listed, not
# negated, so the query ranges over ix_notifications_status_due.
SENT_STATUSES = ("pending", "sending", "sent", "failed")


def _counted(since: datetime, until: datetime, drills: bool) -> list[ColumnElement[bool]]:
    where = [Incident.declared_at >= since, Incident.declared_at <= until, Incident.status != "canceled"]
    if not drills:
        where.append(Incident.drill.is_(False))
    return where


def _seconds(
    dialect: str, start: InstrumentedAttribute[datetime], end: InstrumentedAttribute[datetime | None]
) -> ColumnElement[float]:
    """Seconds from `start` to `end`, computed by the database: a year of incidents then
    crosses the wire as numbers, not as 40,000 timestamps to parse."""
    if dialect == "postgresql":
        return cast("ColumnElement[float]", func.extract("epoch", end - start))
    # SQLite keeps UTC as "YYYY-MM-DD HH:MM:SS.ffffff", which julianday() reads.
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _month(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", Incident.declared_at), "YYYY-MM")
    return func.strftime("%Y-%m", Incident.declared_at)


def incident_times(
    session: Session, since: datetime, until: datetime, *, drills: bool = False
) -> list[domain.IncidentTimes]:
    """The incidents declared in [since, until], with their services' and teams' keys."""
    where = _counted(since, until, drills)
    services: dict[int, list[str]] = defaultdict(list)
    teams: dict[int, list[str]] = defaultdict(list)
    pairs = session.execute(
        select(IncidentService.incident_id, Service.key, Team.key)
        .join(Incident, Incident.id == IncidentService.incident_id)
        .join(Service, Service.id == IncidentService.service_id)
        .outerjoin(Team, Team.id == Service.team_id)
        .where(*where)
        .order_by(IncidentService.incident_id, Service.key)
    )
    for incident_id, service_key, team_key in pairs:
        services[incident_id].append(service_key)
        if team_key is not None and team_key not in teams[incident_id]:
            teams[incident_id].append(team_key)
    dialect = session.get_bind().dialect.name
    rows = session.execute(
        select(
            Incident.id,
            _month(dialect),
            Incident.severity,
            _seconds(dialect, Incident.declared_at, Incident.acknowledged_at),
            _seconds(dialect, Incident.declared_at, Incident.mitigated_at),
            _seconds(dialect, Incident.declared_at, Incident.resolved_at),
        )
        .where(*where)
        .order_by(Incident.declared_at, Incident.id)
    )
    measured = domain.IncidentTimes.measured
    return [
        measured(
            month,
            severity,
            acknowledge,
            mitigate,
            resolve,
            tuple(services.get(incident_id, ())),
            tuple(sorted(teams.get(incident_id, ()))),
        )
        for incident_id, month, severity, acknowledge, mitigate, resolve in rows
    ]


def target_counts(
    session: Session, since: datetime, until: datetime, *, drills: bool = False
) -> list[domain.TargetCount]:
    """Response-target clocks of the incidents declared in the window, counted by severity,
    kind and status (a clock `canceled` with its incident counts for nothing)."""
    rows = session.execute(
        select(Incident.severity, ResponseTarget.kind, ResponseTarget.status, func.count())
        .join(Incident, Incident.id == ResponseTarget.incident_id)
        .where(*_counted(since, until, drills), ResponseTarget.status.in_(("met", "missed", "pending")))
        .group_by(Incident.severity, ResponseTarget.kind, ResponseTarget.status)
    )
    tally: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"met": 0, "missed": 0, "pending": 0})
    for severity, kind, status, count in rows:
        tally[(kind, severity)][status] += int(count)
    return [
        domain.TargetCount(kind=kind, severity=severity, met=c["met"], missed=c["missed"], pending=c["pending"])
        for (kind, severity), c in sorted(tally.items())
    ]


def pages(session: Session, since: datetime, until: datetime, *, drills: bool = False) -> list[domain.Page]:
    """Pages due in [since, until]: one per person and escalation step, however many contact
    methods it went to, at the first of them; drills left out."""
    step = (
        select(
            Notification.user_id.label("user_id"),
            func.min(Notification.due_at).label("at"),
        )
        .join(Incident, Incident.id == Notification.incident_id)
        .where(
            Notification.kind == "page",
            Notification.status.in_(SENT_STATUSES),
            Notification.due_at >= since,
            Notification.due_at <= until,
            Notification.user_id.is_not(None),
            true() if drills else Incident.drill.is_(False),
        )
        .group_by(Notification.user_id, Notification.incident_id, Notification.escalation_id, Notification.step)
        .subquery()
    )
    rows = session.execute(
        select(User.email, User.name, User.time_zone, step.c.at)
        .join(User, User.id == step.c.user_id)
        .order_by(User.email, step.c.at)
    )
    return [domain.Page(user=email, name=name, time_zone=zone, at=at) for email, name, zone, at in rows]


def action_item_counts(
    session: Session, since: datetime, until: datetime, now: datetime, *, drills: bool = False
) -> list[domain.ActionItemCount]:
    """The action items of the incidents declared in the window, counted by status, with how
    many of each are past their due date at `now`."""
    rows = session.execute(
        select(ActionItem.status, func.count(), func.sum(case((ActionItem.due_at < now, 1), else_=0)))
        .join(Incident, Incident.id == ActionItem.incident_id)
        .where(*_counted(since, until, drills))
        .group_by(ActionItem.status)
    )
    return [domain.ActionItemCount(status, int(count), int(past or 0)) for status, count, past in rows]
