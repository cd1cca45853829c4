"""What the public status page shows, read from the database as plain data.

Everything the page, its JSON and its feeds print comes from a `Snapshot` (or a
`PublicIncident`) built here, and nothing else: the web layer never reads a row.
What is public is decided in one place (storage.repositories.status_page):
non-drill incidents with at least one public update, and of their timelines
only those updates (their text and time) and the status moves. No actor names,
notes, alert data or private updates are ever read into these objects.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tocsin.domain import status_page as domain
from tocsin.domain.incidents import IncidentStatus
from tocsin.domain.status_page import ComponentStatus, Impact, Indicator, MaintenanceStatus, PublicIncidentStatus
from tocsin.domain.timeline import EntryKind
from tocsin.storage import models
from tocsin.storage.repositories import severities as severities_repo
from tocsin.storage.repositories import status_page as repo

DEFAULT_NAME = "Status"
HISTORY_PAGE = 20
RESOLVED_TEXT = "This incident has been resolved."


@dataclass(frozen=True)
class Page:
    name: str
    description: str
    url: str  # the page's public address
    time_zone: str
    updated_at: datetime


@dataclass(frozen=True)
class PublicUpdate:
    id: str
    at: datetime
    body: str
    status: PublicIncidentStatus


@dataclass(frozen=True)
class PublicIncident:
    id: int
    name: str
    status: PublicIncidentStatus
    impact: Impact
    created_at: datetime
    updated_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    updates: tuple[PublicUpdate, ...]  # newest first, as Statuspage lists them
    component_ids: tuple[int, ...]

    @property
    def resolved(self) -> bool:
        return self.status in (PublicIncidentStatus.RESOLVED, PublicIncidentStatus.POSTMORTEM)


@dataclass(frozen=True)
class PublicComponent:
    id: int
    key: str
    name: str
    description: str
    group_id: int | None
    position: int
    status: ComponentStatus
    created_at: datetime
    updated_at: datetime
    bars: tuple[domain.Day, ...] = ()
    uptime: float | None = None

    @property
    def label(self) -> str:
        return domain.COMPONENT_LABELS[self.status]


@dataclass(frozen=True)
class PublicGroup:
    id: int
    key: str
    name: str
    description: str
    position: int
    created_at: datetime
    updated_at: datetime
    components: tuple[PublicComponent, ...]

    @property
    def status(self) -> ComponentStatus:
        statuses = [component.status for component in self.components]
        found = domain.worst(statuses)
        if found == ComponentStatus.OPERATIONAL and ComponentStatus.UNDER_MAINTENANCE in statuses:
            return ComponentStatus.UNDER_MAINTENANCE
        return found


@dataclass(frozen=True)
class PublicMaintenance:
    id: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    status: MaintenanceStatus
    created_at: datetime
    updated_at: datetime
    component_ids: tuple[int, ...]


@dataclass(frozen=True)
class Snapshot:
    page: Page
    now: datetime
    indicator: Indicator
    components: tuple[PublicComponent, ...]  # all, in page order
    groups: tuple[PublicGroup, ...]
    ungrouped: tuple[PublicComponent, ...]
    incidents: tuple[PublicIncident, ...]  # unresolved, newest first
    maintenances: tuple[PublicMaintenance, ...]  # in progress and upcoming
    component_names: Mapping[int, str] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return domain.INDICATOR_DESCRIPTIONS[self.indicator]

    @property
    def active_maintenances(self) -> tuple[PublicMaintenance, ...]:
        return tuple(m for m in self.maintenances if m.status == MaintenanceStatus.IN_PROGRESS)

    @property
    def upcoming_maintenances(self) -> tuple[PublicMaintenance, ...]:
        return tuple(m for m in self.maintenances if m.status == MaintenanceStatus.SCHEDULED)


def page(session: Session, public_url: str, now: datetime) -> Page:
    row = repo.settings(session)
    base = f"{public_url.rstrip('/')}/status"
    if row is None:
        return Page(DEFAULT_NAME, "", base, "UTC", now)
    return Page(row.name or DEFAULT_NAME, row.description, row.url or base, row.time_zone, row.updated_at)


def snapshot(session: Session, now: datetime, public_url: str, *, bars: bool = True) -> Snapshot:
    ranks = _ranks(session)
    rows = repo.components(session)
    service_ids = {service.id for row in rows for service in row.services}
    open_by_service: dict[int, list[domain.OpenIncident]] = defaultdict(list)
    for incident_id, service_id, severity, status in repo.open_incidents_on(session, service_ids):
        del incident_id
        open_by_service[service_id].append(domain.OpenIncident(ranks.get(severity), status))

    maintenance_rows = repo.maintenances(session, ending_after=now)
    maintenances = tuple(_maintenance(row, now) for row in maintenance_rows)
    in_maintenance = {
        component_id
        for m in maintenances
        if m.status == MaintenanceStatus.IN_PROGRESS
        for component_id in m.component_ids
    }
    bar_data = _bars(session, rows, now, ranks) if bars else {}

    components: list[PublicComponent] = []
    for row in rows:
        override = ComponentStatus(row.status_override) if row.status_override else None
        status = domain.component_status(
            incidents=[incident for service in row.services for incident in open_by_service.get(service.id, [])],
            checks_down=any(check.status == "down" for check in row.checks),
            in_maintenance=row.id in in_maintenance,
            override=override,
        )
        day_bars, uptime = bar_data.get(row.id, ((), None))
        components.append(
            PublicComponent(
                id=row.id,
                key=row.key,
                name=row.name,
                description=row.description,
                group_id=row.group_id,
                position=row.position,
                status=status,
                created_at=row.created_at,
                updated_at=row.updated_at,
                bars=tuple(day_bars),
                uptime=uptime,
            )
        )
    groups = tuple(
        PublicGroup(
            id=group.id,
            key=group.key,
            name=group.name,
            description=group.description,
            position=group.position,
            created_at=group.created_at,
            updated_at=group.updated_at,
            components=tuple(c for c in components if c.group_id == group.id),
        )
        for group in repo.groups(session)
    )
    incidents = tuple(_incidents(session, repo.public_incidents(session, unresolved_only=True), ranks, rows))
    about = page(session, public_url, now)
    # When anything on the page last changed, as Statuspage's `page.updated_at` says.
    changed = [about.updated_at, *(c.updated_at for c in components), *(i.updated_at for i in incidents)]
    changed += [m.updated_at for m in maintenances]
    return Snapshot(
        page=dataclasses.replace(about, updated_at=max(changed)),
        now=now,
        indicator=domain.indicator(
            (c.status for c in components),
            (i.impact for i in incidents),
            maintenance_active=any(m.status == MaintenanceStatus.IN_PROGRESS for m in maintenances),
        ),
        components=tuple(components),
        groups=tuple(g for g in groups if g.components),
        ungrouped=tuple(c for c in components if c.group_id is None),
        incidents=incidents,
        maintenances=maintenances,
        component_names={c.id: c.name for c in components},
    )


def history(session: Session, page_number: int, per_page: int = HISTORY_PAGE) -> tuple[list[PublicIncident], int]:
    """One page (from 1) of every public incident, newest first, and how many there are."""
    ranks = _ranks(session)
    rows = repo.public_incidents(session, limit=per_page, offset=(page_number - 1) * per_page)
    return _incidents(session, rows, ranks, repo.components(session)), repo.count_public_incidents(session)


def incidents(session: Session, limit: int = 50) -> list[PublicIncident]:
    """The latest public incidents, resolved or not (Statuspage's incidents.json lists 50)."""
    return _incidents(session, repo.public_incidents(session, limit=limit), _ranks(session), repo.components(session))


def incident(session: Session, incident_id: int) -> PublicIncident | None:
    row = repo.public_incident(session, incident_id)
    if row is None:
        return None
    return _incidents(session, [row], _ranks(session), repo.components(session))[0]


def all_maintenances(session: Session, now: datetime) -> list[PublicMaintenance]:
    return [_maintenance(row, now) for row in repo.maintenances(session) if row.canceled_at is None]


def component_names(session: Session) -> dict[int, str]:
    return {row.id: row.name for row in repo.components(session)}


# ---- building blocks ------------------------------------------------------------------------


def _ranks(session: Session) -> dict[str, int]:
    scheme = severities_repo.active_scheme(session)
    return {level.name: level.rank for level in scheme.levels} if scheme is not None else {}


def _maintenance(row: models.StatusPageMaintenance, now: datetime) -> PublicMaintenance:
    return PublicMaintenance(
        id=row.id,
        title=row.title,
        description=row.description,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        status=domain.maintenance_status(row.starts_at, row.ends_at, now),
        created_at=row.created_at,
        updated_at=row.updated_at,
        component_ids=tuple(component.id for component in row.components),
    )


def _components_by_service(components: Iterable[models.StatusPageComponent]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for component in components:
        for service in component.services:
            found[service.id].append(component.id)
    return found


def _incidents(
    session: Session,
    rows: Sequence[models.Incident],
    ranks: Mapping[str, int],
    components: Sequence[models.StatusPageComponent],
) -> list[PublicIncident]:
    by_service = _components_by_service(components)
    entries: dict[int, list[Any]] = defaultdict(list)
    for entry in repo.public_entries(session, [row.id for row in rows]):
        entries[entry.incident_id].append(entry)
    return [_incident(row, entries.get(row.id, []), ranks, by_service) for row in rows]


def _incident(
    row: models.Incident, entries: Sequence[Any], ranks: Mapping[str, int], by_service: Mapping[int, list[int]]
) -> PublicIncident:
    status = domain.public_status(row.status)
    current = domain.PublicIncidentStatus.INVESTIGATING
    updates: list[PublicUpdate] = []
    monitoring_at: datetime | None = None
    for entry in entries:  # oldest first
        if entry.kind == EntryKind.STATUS.value:
            moved_to = domain.public_status(str(entry[5] or ""))
            current = moved_to
            if moved_to == PublicIncidentStatus.MONITORING and monitoring_at is None:
                monitoring_at = entry.at
            continue
        updates.append(PublicUpdate(str(entry.id), entry.at, entry.summary, current))
    resolved_at = row.resolved_at or row.canceled_at
    if resolved_at is not None and status == PublicIncidentStatus.RESOLVED:
        if not updates or updates[-1].status != PublicIncidentStatus.RESOLVED:
            updates.append(PublicUpdate(f"{row.id}-resolved", resolved_at, RESOLVED_TEXT, status))
    else:
        resolved_at = None
    if row.status == IncidentStatus.MONITORING and monitoring_at is None:
        monitoring_at = row.mitigated_at
    component_ids = sorted({c for service in row.services for c in by_service.get(service.id, [])})
    updated_at = max([row.declared_at, *(update.at for update in updates)])
    return PublicIncident(
        id=row.id,
        name=row.title,
        status=status,
        impact=domain.impact_of(ranks.get(row.severity)),
        created_at=row.declared_at,
        updated_at=updated_at,
        monitoring_at=monitoring_at,
        resolved_at=resolved_at,
        updates=tuple(reversed(updates)),
        component_ids=tuple(component_ids),
    )


def _bars(
    session: Session, components: Sequence[models.StatusPageComponent], now: datetime, ranks: Mapping[str, int]
) -> dict[int, tuple[list[domain.Day], float | None]]:
    """Each component's 90 days: its checks' hourly rollups summed per UTC day, and the days its
    services had a public incident open."""
    today = now.date()
    first = today - timedelta(days=domain.UPTIME_DAYS - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    check_ids = {check.id for component in components for check in component.checks}
    per_check: dict[int, dict[date, tuple[int, int]]] = defaultdict(dict)
    for check_id, day, runs, up in repo.daily_rollups_since(session, check_ids, since):
        per_check[check_id][day] = (runs, up)
    spans = repo.public_incidents_between(session, since)
    services = defaultdict(set)
    for incident_id, service_id in repo.incident_services(session, [span.id for span in spans]):
        services[incident_id].add(service_id)
    found: dict[int, tuple[list[domain.Day], float | None]] = {}
    for component in components:
        days: dict[date, tuple[int, int]] = {}
        for check in component.checks:
            for day, (runs, up) in per_check.get(check.id, {}).items():
                before = days.get(day, (0, 0))
                days[day] = (before[0] + runs, before[1] + up)
        mine = {service.id for service in component.services}
        spans_here = [
            (span.declared_at.date(), (span.closed_at or now).date(), domain.impact_of(ranks.get(span.severity)))
            for span in spans
            if services.get(span.id, set()) & mine
        ]
        bars = domain.uptime_bars(today, days, spans_here, measured=bool(component.checks))
        found[component.id] = (bars, domain.uptime_ratio(days))
    return found
