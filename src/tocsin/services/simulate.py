"""What-if: who would be paged, when, on which channel and why, for an incident at a given instant.

`simulate()` runs the real engine, not a model of it: it declares a drill
incident with `incidents.declare` at the simulated instant and steps a
`FrozenClock` from one due time to the next, calling `escalation_steps.due`
at each, exactly as an engine cycle would. What the engine wrote — notification
rows and timeline entries — is read back and explained: the schedule layer or
override that put someone on call, quiet hours that held a page, a layer left
empty by its restrictions, an emergency paging through quiet hours.

THE CALLER MUST ROLL BACK. Everything happens inside a SAVEPOINT that
`simulate()` itself rolls back before returning, so even a caller that commits
afterwards persists nothing; but the outer transaction has still taken locks
(the incident sequence of the simulated day, SQLite's write lock), and the
edge that opened it must end it with a rollback, never a commit, and never let
the deliveries engine see the rows (they are only ever visible to this
transaction).

Each `escalation_steps.due` is limited to the drill's escalation (`only`):
otherwise every real escalation due by the simulated instant would be paged
inside the simulation and its row locked away from the real engine until the
rollback.

Acknowledgement is not simulated: the whole ladder is shown, as if nobody ever
answered. A real acknowledgement stops it at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.clock import FrozenClock
from tocsin.domain import escalation as escalation_rules
from tocsin.domain import schedules as schedule_rules
from tocsin.errors import ValidationFailed
from tocsin.services import contacts, directory, escalation_steps, escalations, incidents, policies, schedules
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import directory as directory_repo
from tocsin.storage.repositories import paging as paging_repo

SIMULATOR = Actor.system("simulator")
MAX_HORIZON = timedelta(days=7)
ACK_NOTE = (
    "Acknowledgement is not simulated: the whole ladder is shown as if nobody answers;"
    " an acknowledgement stops it at once and cancels the pages not yet sent."
)
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SimulatedPage:
    """One page to one person on one channel; `channel` None: the person was not paged (see `why`)."""

    at: datetime  # UTC; when the notification is due (for a held page: when its level was paged)
    local: datetime  # `at` in the simulation's zone
    user_local: datetime  # `at` in the paged user's zone
    user: str  # e-mail
    name: str
    user_zone: str
    channel: str | None
    round: int  # 1-based
    level: int  # 1-based
    why: str

    @property
    def paged(self) -> bool:
        return self.channel is not None


@dataclass(frozen=True)
class Simulation:
    service: str
    severity: str
    policy: str | None  # the policy's key; None when the service has none
    start: datetime  # UTC
    until: datetime  # UTC; the end of the horizon
    time_zone: str  # the zone `local` times are in
    pages: list[SimulatedPage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def simulate(
    session: Session,
    *,
    service_key: str,
    severity: str,
    at: datetime,
    horizon: timedelta = timedelta(hours=2),
    public_url: str,
    time_zone: str | None = None,
) -> Simulation:
    """What the engine would page for a `severity` incident on the service declared at `at`,
    up to `at + horizon`. `time_zone` is the zone to show local times in; the zone of the
    policy's first schedule (or UTC) when left out.

    Writes a drill incident, its escalation, notifications and timeline inside a SAVEPOINT
    that is rolled back before this returns; the caller must roll back its transaction too
    (see the module docstring) and must not commit it.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValidationFailed(f"{at.isoformat()} has no time zone; give an offset or a zone", field="at")
    if not timedelta() < horizon <= MAX_HORIZON:
        raise ValidationFailed(f"the horizon must be more than 0 and at most {MAX_HORIZON.days} days", field="horizon")
    service = directory.get_service(session, service_key)
    zone = _display_zone(session, service, time_zone)
    start = at.astimezone(UTC)
    savepoint = session.begin_nested()
    try:
        return _run(session, service_key, severity, start, start + horizon, public_url, zone)
    finally:
        # Before anything else can flush or commit: nothing of the drill survives this call.
        savepoint.rollback()


def _display_zone(session: Session, service: models.Service, time_zone: str | None) -> ZoneInfo:
    if time_zone:
        try:
            return ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValidationFailed(f"unknown time zone {time_zone!r}", field="time_zone") from None
    for level in service.escalation_policy.levels if service.escalation_policy else ():
        for target in level.targets:
            if target["kind"] == escalation_rules.TargetKind.SCHEDULE:
                schedule = paging_repo.schedule_by_key(session, target["key"])
                if schedule is not None:
                    return _zone(schedule.time_zone)
    return ZoneInfo("UTC")


def _run(
    session: Session, service_key: str, severity: str, start: datetime, until: datetime, public_url: str, zone: ZoneInfo
) -> Simulation:
    clock = FrozenClock(start)
    incident = incidents.declare(
        session,
        SIMULATOR,
        clock.now(),
        title=f"What-if: {severity} on {service_key}",
        severity=severity,
        services=[service_key],
        drill=True,
    )
    escalation = escalations.for_incident(session, incident.id)
    assert escalation is not None  # declare() starts one, paging or recorded
    policy = session.get(models.EscalationPolicy, escalation.policy_id) if escalation.policy_id else None
    plan = escalation_rules.plan(policies.to_domain(policy), escalation.severity, start) if policy else None

    status, next_due = escalation.status, escalation.next_due_at
    # One cycle per due time, jumping straight to the next: the engine pages every step due
    # by `now` in one call (and moves the next level up when a whole level is held).
    for _ in range(len(plan.steps) + 1 if plan else 1):
        escalation_steps.due(session, clock.now(), 1, public_url=public_url, only=escalation.id)
        status, next_due = session.execute(
            select(models.Escalation.status, models.Escalation.next_due_at).where(models.Escalation.id == escalation.id)
        ).one()
        if status != escalations.ACTIVE or next_due is None or next_due > until:
            break
        clock.set(next_due)

    result = Simulation(
        service=service_key,
        severity=incident.severity,
        policy=policy.key if policy else None,
        start=start,
        until=until,
        time_zone=zone.key,
        notes=[ACK_NOTE],
    )
    _read_back(session, incident, escalation, policy, plan, zone, result)
    if status == escalations.RECORDED:
        result.notes.append(f"Nobody is paged: {escalation.reason}")
    elif status == escalations.ACTIVE and next_due is not None:
        result.notes.append(f"Paging goes on after the horizon: the next level is due {_when(next_due, zone)}.")
    result.notes.extend(_clock_changes(zone, start, until))
    return result


# ---- reading back what the engine did ---------------------------------------------------------


def _read_back(
    session: Session,
    incident: models.Incident,
    escalation: models.Escalation,
    policy: models.EscalationPolicy | None,
    plan: escalation_rules.Plan | None,
    zone: ZoneInfo,
    result: Simulation,
) -> None:
    rows = session.scalars(
        select(models.Notification)
        .where(models.Notification.incident_id == incident.id, models.Notification.kind == "page")
        .order_by(models.Notification.due_at, models.Notification.id)
    ).all()
    entries = session.scalars(
        select(models.TimelineEntry)
        .where(models.TimelineEntry.incident_id == incident.id)
        .order_by(models.TimelineEntry.at, models.TimelineEntry.id)
    ).all()
    users = {user.id: user for user in directory_repo.list_users(session, include_inactive=True)}
    by_email = {user.email.lower(): user for user in users.values()}
    steps = plan.steps if plan else ()
    levels = sorted(policy.levels, key=lambda level: level.position) if policy else []
    explain = _Explainer(session, levels, emergency=escalations.emergency_of(session, incident))

    # When each (round, level) was actually paged: the engine moves a level up when the one
    # before reached nobody, so the timeline's `due_at`, not the plan's, is the truth.
    paged_at: dict[tuple[int, int], datetime] = {}
    for entry in entries:
        data = entry.data or {}
        if data.get("event") == "page":
            key = (int(data["round"]), int(data["level"]))
            paged_at[key] = datetime.fromisoformat(str(data["due_at"])).astimezone(UTC)

    pages: list[SimulatedPage] = []
    for row in rows:
        step = next(
            (s for s in steps if escalation_steps.page_key(
                escalation.incident_id, escalation.started_at, s, row.user_id or 0, row.contact_method_id or 0
            ) == row.idempotency_key),
            None,
        )  # fmt: skip
        user = users.get(row.user_id or 0)
        if step is None or user is None:
            continue
        step_at = paged_at.get((step.round, step.level), step.due_at)
        why = explain.paged(user, step.level, step_at)
        delay = row.due_at - step_at
        if delay > timedelta():
            why += f"; notification rule: {row.channel} {_duration(delay)} after the page"
        pages.append(_page(row.due_at, user, row.channel, step.round, step.level, why, zone))

    for entry in entries:
        data = entry.data or {}
        if data.get("event") == "escalation_exhausted":
            result.notes.append(
                f"Escalation exhausted at {_when(entry.at, zone)}: every level was paged and, in this"
                " simulation, nobody acknowledged."
            )
        if data.get("event") != "page":
            continue
        round_, level = int(data["round"]), int(data["level"])
        step_at = paged_at[(round_, level)]
        held = list(data.get("held") or [])
        reached = bool(data.get("paged"))
        for item in held:
            user = by_email.get(str(item["user"]).lower())
            if user is None:
                continue
            why = explain.held(user, level, step_at, item.get("until"), unreachable=bool(item.get("unreachable")))
            if not reached:
                why += f"; nobody at level {level + 1} was reached, so the next level is paged at once"
            pages.append(_page(step_at, user, None, round_, level, why, zone))
        for note in data.get("notes") or []:
            result.notes.append(f"Level {level + 1} at {_when(step_at, zone)}: {explain.note(str(note), step_at)}")

    # Pages in time order; a person held at a level sorts with that level's pages.
    pages.sort(key=lambda page: (page.at, page.round, page.level, page.channel is None))
    result.pages.extend(pages)


class _Explainer:
    """Why the engine paged (or skipped) someone, in words, from the same rules it used."""

    def __init__(self, session: Session, levels: Sequence[models.EscalationLevel], *, emergency: str | None):
        self.session = session
        self.levels = levels
        self.emergency = emergency  # why the incident's pages ignore quiet hours (the engine's rule)

    def paged(self, user: models.User, level: int, at: datetime) -> str:
        why = self._target(user, level, at)
        if self.emergency and self._quiet(user, at):
            why += f"; emergency ({self.emergency}): quiet hours ignored"
        return why

    def held(self, user: models.User, level: int, at: datetime, until: object, *, unreachable: bool) -> str:
        why = self._target(user, level, at)
        if unreachable:
            return f"{why}; no usable contact method (unverified or no rule) → next target"
        if isinstance(until, str):
            ends = datetime.fromisoformat(until).astimezone(_zone(user.time_zone))
            return f"{why}; held by quiet hours until {ends:%H:%M} {ends.tzname()} → next target"
        return f"{why}; held by quiet hours → next target"

    def note(self, note: str, at: datetime) -> str:
        prefix = "nobody on call in "
        if not note.startswith(prefix):
            return note
        schedule = paging_repo.schedule_by_key(self.session, note[len(prefix) :])
        if schedule is None:
            return note
        restricted = _restricted_layers(schedules.to_domain(schedule), at, above=-1)
        return f"{note} ({restricted})" if restricted else note

    def _target(self, user: models.User, level: int, at: datetime) -> str:
        # The first target of the level that names the user, as the engine's dedup keeps it.
        targets = self.levels[level].targets if level < len(self.levels) else []
        for target in targets:
            kind, key = target["kind"], target["key"]
            if kind == escalation_rules.TargetKind.USER and key.lower() == user.email.lower():
                return f"named at level {level + 1}"
            if kind == escalation_rules.TargetKind.SCHEDULE:
                why = self._schedule(user, key, at)
                if why:
                    return why
            if kind == escalation_rules.TargetKind.TEAM:
                team = directory_repo.team_by_key(self.session, key)
                if team is not None and any(member.user_id == user.id for member in team.members):
                    return f"member of team {key}"
        return f"paged at level {level + 1}"

    def _schedule(self, user: models.User, key: str, at: datetime) -> str:
        schedule = paging_repo.schedule_by_key(self.session, key)
        if schedule is None:
            return ""
        rules = schedules.to_domain(schedule)
        on_call = schedule_rules.on_call_at(rules, at)
        if on_call is None or on_call.user.lower() != user.email.lower():
            return ""
        if on_call.source.kind == schedule_rules.SourceKind.OVERRIDE:
            return f"override in {key}"
        why = f"on call in {key}, layer {on_call.source.name}"
        restricted = _restricted_layers(rules, at, above=on_call.source.index)
        return f"{why} ({restricted})" if restricted else why

    def _quiet(self, user: models.User, at: datetime) -> bool:
        quiet = paging_repo.quiet_hours_of(self.session, user.id)
        return quiet is not None and contacts.quiet_to_domain(quiet).holds(at, _zone(user.time_zone))


def _restricted_layers(schedule: schedule_rules.Schedule, at: datetime, *, above: int) -> str:
    """The layers above `above` that would have had someone at `at` but for their restrictions:
    the reason a lower layer (or nobody) answered."""
    empty = []
    for index, layer in enumerate(schedule.layers):
        if index <= above or not layer.restrictions:
            continue
        alone = replace(schedule, layers=(layer,), overrides=())
        unrestricted = replace(alone, layers=(replace(layer, restrictions=()),))
        if schedule_rules.on_call_at(alone, at) is None and schedule_rules.on_call_at(unrestricted, at) is not None:
            windows = ", ".join(_window(r) for r in layer.restrictions)
            empty.append(f"layer {layer.name} is empty outside {windows}")
    return "; ".join(empty)


def _window(restriction: schedule_rules.Restriction) -> str:
    days = "/".join(_DAY_NAMES[day] for day in sorted(restriction.days))
    end = "24:00" if restriction.end == schedule_rules.MIDNIGHT else f"{restriction.end:%H:%M}"
    return f"{days} {restriction.start:%H:%M}-{end}"


# ---- formatting -------------------------------------------------------------------------------


def _page(
    at: datetime, user: models.User, channel: str | None, round_: int, level: int, why: str, zone: ZoneInfo
) -> SimulatedPage:
    at = at.astimezone(UTC)
    user_zone = _zone(user.time_zone)
    return SimulatedPage(
        at=at,
        local=at.astimezone(zone),
        user_local=at.astimezone(user_zone),
        user=user.email,
        name=user.name,
        user_zone=user_zone.key,
        channel=channel,
        round=round_ + 1,
        level=level + 1,
        why=why,
    )


def _clock_changes(zone: ZoneInfo, start: datetime, until: datetime) -> list[str]:
    """A note for each time the zone's clocks change within the horizon (the DST question)."""

    def offset(timestamp: float) -> timedelta | None:
        return datetime.fromtimestamp(timestamp, zone).utcoffset()

    notes = []
    probe = start
    while probe < until:
        following = min(probe + timedelta(hours=1), until)
        if offset(probe.timestamp()) != offset(following.timestamp()):
            low, high = int(probe.timestamp()), int(following.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == offset(low):
                    low = middle
                else:
                    high = middle
            change = datetime.fromtimestamp(high, UTC)
            before, after = datetime.fromtimestamp(low, zone), change.astimezone(zone)
            wall_before = change + (before.utcoffset() or timedelta())
            notes.append(
                f"The clocks in {zone.key} change at {change:%Y-%m-%d %H:%M} UTC: {wall_before:%H:%M} {before.tzname()}"
                f" becomes {after:%H:%M} {after.tzname()}; local times after it are {after.tzname()}."
            )
        probe = following
    return notes


def _when(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _duration(delta: timedelta) -> str:
    minutes, seconds = divmod(int(delta.total_seconds()), 60)
    return f"{minutes} min" if not seconds else f"{minutes} min {seconds} s"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")
