"""Heartbeats: when a passive check expects its next ping, and what a ping or its absence means.

A heartbeat is expected by a period (every hour) or by a cron expression in a
time zone, each plus a grace. Its stored status is `new` (never pinged), `up`,
`down` or `paused`; `late` is `up` past the expected time and within the grace,
so it is worked out at read time, never stored. A start without a finish is a
run in progress: it is down once it has run longer than the upper bound on run
time (or, without one, the grace).

The one instant the engine cares about is `next_due`: when the heartbeat goes
down if nothing more arrives. Everything here takes `now` and does no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import cast
from zoneinfo import ZoneInfo

from croniter import croniter

from tocsin.domain.naming import time_zone_problem

MIN_PERIOD = timedelta(minutes=1)
MAX_PERIOD = timedelta(days=366)
MIN_GRACE = timedelta(minutes=1)
MAX_GRACE = timedelta(days=366)
# Kept of each ping's body; the rest is cut off and the ping marked truncated (healthchecks' default).
BODY_LIMIT = 10_000


class Status(StrEnum):
    NEW = "new"
    UP = "up"
    LATE = "late"  # healthchecks calls it "grace"
    DOWN = "down"
    PAUSED = "paused"


# What is stored: `late` is read off the clock.
STORED = frozenset({Status.NEW, Status.UP, Status.DOWN, Status.PAUSED})


class PingKind(StrEnum):
    SUCCESS = "success"
    START = "start"
    FAIL = "fail"
    LOG = "log"


class Effect(StrEnum):
    NONE = "none"
    RAISE = "raise"  # trigger the heartbeat's alert (again: a repeat counts)
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Schedule:
    grace: timedelta
    period: timedelta | None = None
    cron: str | None = None
    time_zone: str = "UTC"
    min_run: timedelta | None = None
    max_run: timedelta | None = None


@dataclass(frozen=True)
class State:
    status: Status
    last_ping_at: datetime | None = None  # the last success or failure (starts and logs don't count)
    started_at: datetime | None = None  # a run in progress
    alerting: bool = False  # its alert is firing (raised here, not yet resolved)


@dataclass(frozen=True)
class Transition:
    state: State
    effect: Effect = Effect.NONE
    reason: str = ""  # why it raised, for the alert's summary


_CRON_FIELDS = re.compile(r"^\S+(\s+\S+){4}$")


def schedule_problem(schedule: Schedule) -> tuple[str, str] | None:
    """What is wrong with a schedule, as (field, message), or None."""
    if (schedule.period is None) == (schedule.cron is None):
        return "period", "give either a period or a cron expression"
    if schedule.period is not None and not MIN_PERIOD <= schedule.period <= MAX_PERIOD:
        return "period", "the period must be between 1 minute and 366 days"
    # Five fields only: croniter also takes seconds and years, which cron does not.
    if schedule.cron is not None and not (
        _CRON_FIELDS.match(schedule.cron.strip()) and croniter.is_valid(schedule.cron.strip())
    ):
        return "cron", f"{schedule.cron!r} is not a cron expression of five fields, such as '0 3 * * *'"
    problem = time_zone_problem(schedule.time_zone)
    if problem:
        return "time_zone", problem
    if not MIN_GRACE <= schedule.grace <= MAX_GRACE:
        return "grace", "the grace must be between 1 minute and 366 days"
    for name, bound in (("min_run", schedule.min_run), ("max_run", schedule.max_run)):
        if bound is not None and bound <= timedelta(0):
            return name, "a bound on the run time must be positive"
    if schedule.min_run is not None and schedule.max_run is not None and schedule.min_run >= schedule.max_run:
        return "min_run", "the lower bound on the run time must be below the upper bound"
    return None


def expected_after(schedule: Schedule, last: datetime) -> datetime:
    """When the next ping is expected, given the last one (without the grace)."""
    if schedule.period is not None:
        return last + schedule.period
    assert schedule.cron is not None
    zone = ZoneInfo(schedule.time_zone)
    it = croniter(schedule.cron.strip(), last.astimezone(zone))
    while True:
        candidate = cast(datetime, it.get_next(datetime))
        # Where clocks go back, croniter fires a wall-clock time twice; cron runs the job
        # once, at the first, so the second must not be waited for.
        if not _repeated_wall_time(candidate, zone):
            return candidate.astimezone(UTC)


def _repeated_wall_time(moment: datetime, zone: ZoneInfo) -> bool:
    wall = moment.astimezone(zone).replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0)
    # Compared as instants: two datetimes of one zone compare by wall time, fold ignored.
    return (
        first.utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset() and first.timestamp() != moment.timestamp()
    )


def run_limit(schedule: Schedule) -> timedelta:
    """How long a started run may go on before the heartbeat is down."""
    return schedule.max_run if schedule.max_run is not None else schedule.grace


def next_due(schedule: Schedule, state: State) -> datetime | None:
    """When the heartbeat goes down unless a ping comes first; None when nothing is owed."""
    if state.status in (Status.DOWN, Status.PAUSED):
        return None
    candidates: list[datetime] = []
    if state.status == Status.UP and state.last_ping_at is not None:
        candidates.append(expected_after(schedule, state.last_ping_at) + schedule.grace)
    if state.started_at is not None:
        candidates.append(state.started_at + run_limit(schedule))
    return min(candidates) if candidates else None


def status_at(schedule: Schedule, state: State, now: datetime) -> Status:
    """The status a person sees now: the stored one, or `late` past the expected time."""
    if state.status != Status.UP or state.last_ping_at is None:
        return state.status
    due = next_due(schedule, state)
    if due is not None and due <= now:
        return Status.DOWN  # the engine has not got to it yet
    if expected_after(schedule, state.last_ping_at) <= now:
        return Status.LATE
    return Status.UP


def run_time_problem(schedule: Schedule, duration: timedelta) -> str | None:
    """Why a finished run of this length is a failure, or None."""
    if schedule.min_run is not None and duration < schedule.min_run:
        return f"the run took {describe(duration)}, shorter than the {describe(schedule.min_run)} lower bound"
    if schedule.max_run is not None and duration > schedule.max_run:
        return f"the run took {describe(duration)}, longer than the {describe(schedule.max_run)} upper bound"
    return None


def receive(
    schedule: Schedule,
    state: State,
    kind: PingKind,
    now: datetime,
    *,
    exit_status: int | None = None,
    duration: timedelta | None = None,
    ends_run: bool = True,
) -> Transition:
    """A ping arrives. `duration` is the run time when the ping finishes a start it pairs with,
    and `ends_run` says whether it finishes the run in progress (a finish with another run's
    id leaves that one running)."""
    if state.status == Status.PAUSED or kind == PingKind.LOG:
        return Transition(state)  # recorded, nothing changes: a paused heartbeat is resumed by a person
    if kind == PingKind.START:
        return Transition(replace(state, started_at=now))
    started_at = None if ends_run else state.started_at
    reason = None
    if kind == PingKind.FAIL:
        reason = f"exit status {exit_status}" if exit_status is not None else "the job reported a failure"
    elif duration is not None:
        reason = run_time_problem(schedule, duration)
    if reason is not None:
        return Transition(State(Status.DOWN, now, started_at, alerting=True), Effect.RAISE, reason)
    effect = Effect.RESOLVE if state.alerting else Effect.NONE
    return Transition(State(Status.UP, now, started_at, alerting=False), effect)


def overdue(schedule: Schedule, state: State, now: datetime) -> Transition | None:
    """The heartbeat went down for lack of a ping (or of a finish), or None if it has not."""
    due = next_due(schedule, state)
    if due is None or due > now:
        return None
    if state.started_at is not None and state.started_at + run_limit(schedule) <= now:
        reason = f"the run started at {stamp(state.started_at)} has not finished after {describe(run_limit(schedule))}"
    elif state.last_ping_at is not None:
        reason = f"no ping since {stamp(state.last_ping_at)}"
    else:
        reason = "no ping"
    return Transition(replace(state, status=Status.DOWN, alerting=True), Effect.RAISE, reason)


def pause(state: State) -> State:
    return replace(state, status=Status.PAUSED, started_at=None)


def resume(state: State) -> State:
    """Back to waiting for a first ping, as healthchecks does: the time paused is not held against it."""
    return replace(state, status=Status.NEW, started_at=None)


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe(span: timedelta) -> str:
    """A short duration for people: 45 s, 5 min, 1 h 30 min, 2 d."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{span.total_seconds():.3g} s" if seconds < 10 else f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 else "")
    if seconds < 86400:
        return f"{seconds // 3600} h" + (f" {seconds % 3600 // 60} min" if seconds % 3600 // 60 else "")
    return f"{seconds // 86400} d" + (f" {seconds % 86400 // 3600} h" if seconds % 86400 // 3600 else "")


def parse_exit_status(text: str) -> int | None:
    """The exit status in `/ping/<uuid>/<n>`: 0 to 255, else None."""
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if value <= 255 else None
