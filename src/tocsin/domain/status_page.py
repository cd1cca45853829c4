"""The public status page's rules: a component's status, the page's overall indicator, the
Statuspage words for an incident's status and impact, and the 90-day uptime bars.

Statuspage's values are used exactly (`operational` … `under_maintenance` for a
component; `none`, `minor`, `major`, `critical`, `maintenance` for the page),
so the widgets and aggregators that read Statuspage's JSON read Tocsin's.

A component's status, strongest first:

    manual override          whatever was set by hand, until it is cleared
    open incidents           on a linked service (drills never count): the most severe level
                             (rank 0) is a major outage, the next (rank 1) a partial outage,
                             anything lower a degraded performance; an incident in
                             `monitoring` (the fix is in, being watched) at most degraded
    active maintenance       under maintenance (a check failing during it is expected)
    a linked check down      partial outage
    otherwise                operational
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from tocsin.domain.incidents import IncidentStatus


class ComponentStatus(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"


class Indicator(StrEnum):
    """The page's overall status (Statuspage's `status.indicator`); never `operational`."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


INDICATOR_DESCRIPTIONS = {
    Indicator.NONE: "All Systems Operational",
    Indicator.MINOR: "Minor Service Outage",
    Indicator.MAJOR: "Partial System Outage",
    Indicator.CRITICAL: "Major System Outage",
    Indicator.MAINTENANCE: "Service Under Maintenance",
}

COMPONENT_LABELS = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
    ComponentStatus.MAJOR_OUTAGE: "Major outage",
    ComponentStatus.UNDER_MAINTENANCE: "Under maintenance",
}

# How bad each outage is, for "the worst of": maintenance is not an outage.
_OUTAGE_ORDER = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 0,
    ComponentStatus.DEGRADED_PERFORMANCE: 1,
    ComponentStatus.PARTIAL_OUTAGE: 2,
    ComponentStatus.MAJOR_OUTAGE: 3,
}


@dataclass(frozen=True)
class OpenIncident:
    """An open, non-drill incident on one of a component's services, as the rules need it."""

    severity_rank: int | None  # None: its severity is not in the active scheme
    status: str


def incident_effect(incident: OpenIncident) -> ComponentStatus:
    if incident.status == IncidentStatus.MONITORING:
        return ComponentStatus.DEGRADED_PERFORMANCE
    if incident.severity_rank == 0:
        return ComponentStatus.MAJOR_OUTAGE
    if incident.severity_rank == 1:
        return ComponentStatus.PARTIAL_OUTAGE
    return ComponentStatus.DEGRADED_PERFORMANCE


def worst(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    found = ComponentStatus.OPERATIONAL
    for status in statuses:
        if _OUTAGE_ORDER[status] > _OUTAGE_ORDER[found]:
            found = status
    return found


def component_status(
    *,
    incidents: Sequence[OpenIncident] = (),
    checks_down: bool = False,
    in_maintenance: bool = False,
    override: ComponentStatus | None = None,
) -> ComponentStatus:
    if override is not None:
        return override
    if incidents:
        return worst(incident_effect(incident) for incident in incidents)
    if in_maintenance:
        return ComponentStatus.UNDER_MAINTENANCE
    if checks_down:
        return ComponentStatus.PARTIAL_OUTAGE
    return ComponentStatus.OPERATIONAL


class Impact(StrEnum):
    """An incident's impact, in Statuspage's words (`maintenance` is for scheduled maintenance)."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


def impact_of(severity_rank: int | None) -> Impact:
    """Rank 0 is critical, 1 major, anything lower (or unknown) minor."""
    if severity_rank == 0:
        return Impact.CRITICAL
    if severity_rank == 1:
        return Impact.MAJOR
    return Impact.MINOR


def indicator(
    components: Iterable[ComponentStatus], impacts: Iterable[Impact] = (), *, maintenance_active: bool = False
) -> Indicator:
    """The page's overall status: the worst component or unresolved incident, else maintenance, else none."""
    level = 0
    maintenance = maintenance_active
    for status in components:
        level = max(level, _OUTAGE_ORDER[status])
        maintenance = maintenance or status == ComponentStatus.UNDER_MAINTENANCE
    for impact in impacts:
        level = max(level, {Impact.CRITICAL: 3, Impact.MAJOR: 2, Impact.MINOR: 1}.get(impact, 0))
    if level == 3:
        return Indicator.CRITICAL
    if level == 2:
        return Indicator.MAJOR
    if level == 1:
        return Indicator.MINOR
    return Indicator.MAINTENANCE if maintenance else Indicator.NONE


class PublicIncidentStatus(StrEnum):
    """Statuspage's incident statuses."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


_PUBLIC_STATUS = {
    IncidentStatus.TRIGGERED: PublicIncidentStatus.INVESTIGATING,
    IncidentStatus.ACKNOWLEDGED: PublicIncidentStatus.INVESTIGATING,
    IncidentStatus.INVESTIGATING: PublicIncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED: PublicIncidentStatus.IDENTIFIED,
    IncidentStatus.MITIGATING: PublicIncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING: PublicIncidentStatus.MONITORING,
    IncidentStatus.RESOLVED: PublicIncidentStatus.RESOLVED,
    # A false alarm that was made public is over, as far as readers are concerned.
    IncidentStatus.CANCELED: PublicIncidentStatus.RESOLVED,
}


def public_status(status: str) -> PublicIncidentStatus:
    try:
        return _PUBLIC_STATUS[IncidentStatus(status)]
    except ValueError:
        return PublicIncidentStatus.INVESTIGATING


class MaintenanceStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


def maintenance_status(starts_at: datetime, ends_at: datetime, now: datetime) -> MaintenanceStatus:
    if now < starts_at:
        return MaintenanceStatus.SCHEDULED
    if now < ends_at:
        return MaintenanceStatus.IN_PROGRESS
    return MaintenanceStatus.COMPLETED


# ---- uptime bars --------------------------------------------------------------------------

UPTIME_DAYS = 90


@dataclass(frozen=True)
class Day:
    """One bar: the day's uptime from the linked checks' runs (None without runs) and the
    worst public incident that touched the day (None without one)."""

    day: date
    uptime: float | None
    impact: Impact | None
    measured: bool = True  # the component has checks; without any, only incidents colour a day

    @property
    def level(self) -> str:
        """The bar's colour: an incident's impact first, then what the checks saw."""
        if self.impact is not None and self.impact != Impact.NONE:
            return self.impact.value
        if not self.measured:
            return "none"
        if self.uptime is None:
            return "nodata"
        if self.uptime >= 0.999:
            return "none"
        if self.uptime >= 0.99:
            return "minor"
        if self.uptime >= 0.95:
            return "major"
        return "critical"


def days(today: date, count: int = UPTIME_DAYS) -> list[date]:
    return [today - timedelta(days=n) for n in range(count - 1, -1, -1)]


def uptime_bars(
    today: date,
    checks: dict[date, tuple[int, int]],
    incidents: Iterable[tuple[date, date, Impact]],
    count: int = UPTIME_DAYS,
    *,
    measured: bool = True,
) -> list[Day]:
    """`checks` maps a day to (runs, up runs) summed over the component's checks; `incidents`
    are (first day, last day, impact) of the public incidents on its services. A component
    without checks (`measured` False) has no uptime: its days show only its incidents."""
    worst_impact: dict[date, Impact] = {}
    rank = {Impact.MINOR: 1, Impact.MAJOR: 2, Impact.CRITICAL: 3}
    window = days(today, count)
    first = window[0]
    for start, end, impact in incidents:
        day = max(start, first)
        while day <= min(end, today):
            current = worst_impact.get(day)
            if current is None or rank.get(impact, 0) > rank.get(current, 0):
                worst_impact[day] = impact
            day += timedelta(days=1)
    bars = []
    for day in window:
        runs, up = checks.get(day, (0, 0))
        bars.append(Day(day, up / runs if runs else None, worst_impact.get(day), measured))
    return bars


def uptime_ratio(checks: dict[date, tuple[int, int]]) -> float | None:
    """The share of the linked checks' runs that were up, over every day given (None without runs)."""
    runs = sum(total for total, _ in checks.values())
    if not runs:
        return None
    return sum(up for _, up in checks.values()) / runs
