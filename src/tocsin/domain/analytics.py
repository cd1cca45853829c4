"""Incident analytics: response times, target compliance, on-call load and action items.

Pure figures from plain rows (storage.repositories.analytics reads them, services.analytics
glues the two); docs/analytics.md says what each figure means.

- **Time to acknowledge** (MTTA): declared → acknowledged; **time to mitigate**: declared →
  mitigated (the move into `monitoring`); **time to resolve** (MTTR): declared → resolved.
  Each figure counts only the incidents that reached that point, so an open incident
  counts towards MTTA once acknowledged and towards MTTR once resolved.
- Figures are grouped by severity, service, team (an incident of two teams' services counts
  for both) and the month it was declared in (UTC), with the median and the mean.
- **Target compliance**: settled response-target clocks, met / (met + missed).
- **On-call load**: pages per person; a page outside working hours is one sent outside
  09:00-18:00 Monday to Friday on the person's own wall clock (`users.time_zone`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

WORK_START = time(9, 0)
WORK_END = time(18, 0)
WORK_DAYS = frozenset(range(5))  # Monday (0) to Friday (4)

NO_SERVICE = "(no service)"
NO_TEAM = "(no team)"


@dataclass(frozen=True, slots=True)
class IncidentTimes:
    """One incident as the figures see it: the month it was declared in (UTC) and the seconds
    from its declaration to each milestone it reached (None for one it has not)."""

    month: str  # "2026-11"
    severity: str
    acknowledge_s: float | None = None
    mitigate_s: float | None = None
    resolve_s: float | None = None
    services: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()

    @classmethod
    def measured(
        cls,
        month: str,
        severity: str,
        acknowledge_s: float | None,
        mitigate_s: float | None,
        resolve_s: float | None,
        services: tuple[str, ...] = (),
        teams: tuple[str, ...] = (),
    ) -> IncidentTimes:
        """Seconds as the database computed them: rounded to the millisecond, and a milestone
        recorded before the declaration (a back-dated incident) is 0, never negative."""
        return cls(month, severity, _clamped(acknowledge_s), _clamped(mitigate_s), _clamped(resolve_s), services, teams)

    @classmethod
    def of(
        cls,
        declared_at: datetime,
        severity: str,
        acknowledged_at: datetime | None = None,
        mitigated_at: datetime | None = None,
        resolved_at: datetime | None = None,
        services: tuple[str, ...] = (),
        teams: tuple[str, ...] = (),
    ) -> IncidentTimes:
        def since(moment: datetime | None) -> float | None:
            return None if moment is None else (moment - declared_at).total_seconds()

        return cls.measured(
            month_of(declared_at), severity, since(acknowledged_at), since(mitigated_at), since(resolved_at),
            services, teams,
        )  # fmt: skip


def _clamped(seconds: float | None) -> float | None:
    return None if seconds is None else max(0.0, round(float(seconds), 3))


@dataclass(frozen=True)
class Stat:
    """Seconds: how many incidents got there, the median and the mean (None for none)."""

    count: int
    median_s: float | None
    mean_s: float | None


@dataclass(frozen=True)
class Figures:
    """The response times of one group of incidents (a severity, a service, a team, a month)."""

    key: str
    incidents: int
    acknowledge: Stat
    mitigate: Stat
    resolve: Stat


@dataclass(frozen=True)
class TargetCount:
    """How many response-target clocks of one kind and severity were met, missed or still running."""

    kind: str  # acknowledge / resolve
    severity: str
    met: int
    missed: int
    pending: int = 0


@dataclass(frozen=True)
class Compliance:
    kind: str
    severity: str  # "" for every severity
    met: int
    missed: int
    pending: int
    percent: float | None  # met / (met + missed); None when nothing was settled


@dataclass(frozen=True)
class Page:
    """One page to one person: an escalation step reaching them (however many contact methods)."""

    user: str  # e-mail
    name: str
    time_zone: str
    at: datetime


@dataclass(frozen=True)
class PersonLoad:
    user: str
    name: str
    pages: int
    outside_hours: int


@dataclass(frozen=True)
class ActionItemCount:
    """Action items in one status, and how many of them are due before now."""

    status: str  # open / in_progress / done / wont_do
    count: int
    past_due: int = 0


@dataclass(frozen=True)
class ActionItemFigures:
    total: int
    done: int
    open: int
    overdue: int
    wont_do: int
    percent_done: float | None  # done / (total - wont_do)


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    incidents: int
    overall: Figures
    by_severity: list[Figures]
    by_service: list[Figures]
    by_team: list[Figures]
    by_month: list[Figures]
    targets: list[Compliance]
    load: list[PersonLoad]
    action_items: ActionItemFigures | None = None
    drills: bool = False  # drills counted too


# ---- response times -------------------------------------------------------------------


def summarize(seconds: Sequence[float]) -> Stat:
    if not seconds:
        return Stat(0, None, None)
    return Stat(len(seconds), float(statistics.median(seconds)), sum(seconds) / len(seconds))


def figures(key: str, incidents: Sequence[IncidentTimes]) -> Figures:
    acknowledge = [i.acknowledge_s for i in incidents if i.acknowledge_s is not None]
    mitigate = [i.mitigate_s for i in incidents if i.mitigate_s is not None]
    resolve = [i.resolve_s for i in incidents if i.resolve_s is not None]
    return Figures(key, len(incidents), summarize(acknowledge), summarize(mitigate), summarize(resolve))


def grouped(
    incidents: Iterable[IncidentTimes], keys: Callable[[IncidentTimes], Iterable[str]], order: Sequence[str] = ()
) -> list[Figures]:
    """Figures per key; keys in `order` first (in that order, even when empty), the rest sorted."""
    groups: dict[str, list[IncidentTimes]] = {key: [] for key in order}
    for incident in incidents:
        for key in dict.fromkeys(keys(incident)):
            groups.setdefault(key, []).append(incident)
    first = set(order)
    ordered = list(order) + sorted(k for k in groups if k not in first)
    return [figures(key, groups[key]) for key in ordered]


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def months_between(since: datetime, until: datetime) -> list[str]:
    """Every month from `since` to `until` (UTC), so a chart shows the quiet months too."""
    months: list[str] = []
    year, month = since.year, since.month
    while (year, month) <= (until.year, until.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


# ---- target compliance ----------------------------------------------------------------


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 1)


def compliance(counts: Iterable[TargetCount], severities: Sequence[str] = ()) -> list[Compliance]:
    """Per kind: a line for every severity (in the scheme's order), then the kind's total (severity "")."""
    by_kind: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for count in counts:
        tally = by_kind[count.kind][count.severity]
        tally[0] += count.met
        tally[1] += count.missed
        tally[2] += count.pending
    rank = {name: i for i, name in enumerate(severities)}
    lines: list[Compliance] = []
    for kind in sorted(by_kind, key=lambda k: (k != "acknowledge", k)):
        per = by_kind[kind]
        for severity in sorted(per, key=lambda s: (rank.get(s, len(rank)), s)):
            met, missed, pending = per[severity]
            lines.append(Compliance(kind, severity, met, missed, pending, _percent(met, met + missed)))
        met, missed, pending = (sum(t[i] for t in per.values()) for i in range(3))
        lines.append(Compliance(kind, "", met, missed, pending, _percent(met, met + missed)))
    return lines


# ---- on-call load ---------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def outside_working_hours(moment: datetime, time_zone: str) -> bool:
    """Outside 09:00-18:00 Monday to Friday on the wall clock of `time_zone`."""
    local = moment.astimezone(_zone(time_zone))
    return local.weekday() not in WORK_DAYS or not WORK_START <= local.time() < WORK_END


def on_call_load(pages: Iterable[Page]) -> list[PersonLoad]:
    """Pages per person, the most paged first."""
    tally: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for page in pages:
        counts = tally.setdefault(page.user, [0, 0])
        names[page.user] = page.name
        counts[0] += 1
        counts[1] += outside_working_hours(page.at, page.time_zone)
    loads = [PersonLoad(user, names[user], pages, outside) for user, (pages, outside) in tally.items()]
    return sorted(loads, key=lambda load: (-load.pages, load.user))


# ---- action items ---------------------------------------------------------------------

DONE = "done"
# Closed without doing it: not counted for or against completion.
DROPPED = frozenset({"wont_do", "canceled"})


def action_item_figures(counts: Iterable[ActionItemCount]) -> ActionItemFigures:
    """Completion: done / (all - won't do); overdue: neither done nor dropped, and past its due date."""
    total = done = dropped = overdue = 0
    for count in counts:
        total += count.count
        if count.status == DONE:
            done += count.count
        elif count.status in DROPPED:
            dropped += count.count
        else:
            overdue += count.past_due
    counted = total - dropped
    return ActionItemFigures(
        total=total,
        done=done,
        open=counted - done,
        overdue=overdue,
        wont_do=dropped,
        percent_done=_percent(done, counted),
    )


# ---- the report -----------------------------------------------------------------------


def build_report(
    *,
    since: datetime,
    until: datetime,
    incidents: Sequence[IncidentTimes],
    severities: Sequence[str],
    targets: Iterable[TargetCount],
    pages: Iterable[Page],
    action_items: ActionItemFigures | None = None,
    drills: bool = False,
) -> Report:
    present = {i.severity for i in incidents}
    severity_order = [s for s in severities if s in present]
    return Report(
        since=since,
        until=until,
        incidents=len(incidents),
        overall=figures("all", incidents),
        by_severity=grouped(incidents, lambda i: (i.severity,), severity_order),
        by_service=grouped(incidents, lambda i: i.services or (NO_SERVICE,)),
        by_team=grouped(incidents, lambda i: i.teams or (NO_TEAM,)),
        by_month=grouped(incidents, lambda i: (i.month,), months_between(since, until)),
        targets=compliance(targets, severities),
        load=on_call_load(pages),
        action_items=action_items,
        drills=drills,
    )


# ---- CSV ------------------------------------------------------------------------------

CSV_HEADER = ("section", "group", "metric", "value")


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    return str(int(value))


def csv_rows(report: Report) -> list[tuple[str, str, str, str]]:
    """The report in long form, one figure a row: (section, group, metric, value). Durations in
    seconds, an empty value where nothing was measured; a spreadsheet pivots it as it likes."""
    rows: list[tuple[str, str, str, str]] = [
        ("window", "", "since", report.since.isoformat()),
        ("window", "", "until", report.until.isoformat()),
    ]
    sections = (
        ("overall", [report.overall]),
        ("severity", report.by_severity),
        ("service", report.by_service),
        ("team", report.by_team),
        ("month", report.by_month),
    )
    for section, groups in sections:
        for group in groups:
            rows.append((section, group.key, "incidents", str(group.incidents)))
            for name, stat in (
                ("acknowledge", group.acknowledge),
                ("mitigate", group.mitigate),
                ("resolve", group.resolve),
            ):
                rows.append((section, group.key, f"{name}_count", str(stat.count)))
                rows.append((section, group.key, f"{name}_median_s", _number(stat.median_s)))
                rows.append((section, group.key, f"{name}_mean_s", _number(stat.mean_s)))
    for line in report.targets:
        severity = line.severity or "all"
        rows.append((f"target_{line.kind}", severity, "met", str(line.met)))
        rows.append((f"target_{line.kind}", severity, "missed", str(line.missed)))
        rows.append((f"target_{line.kind}", severity, "pending", str(line.pending)))
        rows.append((f"target_{line.kind}", severity, "percent_met", _number(line.percent)))
    for load in report.load:
        rows.append(("pages", load.user, "pages", str(load.pages)))
        rows.append(("pages", load.user, "outside_working_hours", str(load.outside_hours)))
    if report.action_items is not None:
        items = report.action_items
        for metric, value in (
            ("total", items.total), ("done", items.done), ("open", items.open), ("overdue", items.overdue),
            ("wont_do", items.wont_do), ("percent_done", items.percent_done),
        ):  # fmt: skip
            rows.append(("action_items", "", metric, _number(value)))
    return rows


def hours(seconds: float | None) -> float:
    return 0.0 if seconds is None else seconds / 3600


def minutes(seconds: float | None) -> float:
    return 0.0 if seconds is None else seconds / 60
