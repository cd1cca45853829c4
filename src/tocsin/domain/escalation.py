"""Escalation policies and the timetable of pages they produce.

A policy is an ordered list of levels; each level names its targets (users,
schedules, teams) and how long it has before the next level is paged. After
the last level the whole policy starts over, `repeat` more times. A severity
can change the shape (the escalation matrix): page every level at once, use
one step delay for every level, or page nobody and only record.

`plan()` turns a policy into the full timetable for an incident. The engine
stores those steps as rows with a due time; the functions below say which of
them may still go out. A step is identified by `(plan.started_at, round,
level)`, which stays the same when `escalate_now()` or `escalate_past()` moves
the timetable up.

The rules for stopping, in one place:

- Acknowledgement and resolution stop the escalation at once and for good:
  once either happened at or before `now`, no step is due, not a later one,
  not one due at the very instant of the acknowledgement (the human who
  answered wins the tie with the engine's cycle), and not an earlier one that
  has not gone out yet.
- An acknowledgement that is released (by hand or by an ack timeout) does not
  resume the old timetable: `reescalate()` starts a new one from the first
  level at that instant, with all its rounds.

A running escalation whose plan changes — the incident's severity changed, or
its policy was edited or replaced — goes on from where it is (`follow()`):
see docs/escalations.md for the rule in words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from tocsin.domain.severity import SeverityScheme


class PolicyError(ValueError):
    """An invalid policy; `field` is the path of the offending value, e.g. `levels[1].delay`."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class TargetKind(StrEnum):
    USER = "user"
    SCHEDULE = "schedule"
    TEAM = "team"


class VariantKind(StrEnum):
    ALL_AT_ONCE = "all_at_once"
    STEP_DELAY = "step_delay"
    RECORD_ONLY = "record_only"


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    key: str


@dataclass(frozen=True)
class Level:
    targets: tuple[Target, ...]
    delay: timedelta  # from paging this level to paging the next one (or the next round)


@dataclass(frozen=True)
class Variant:
    """How one severity reshapes a policy; `step_delay` only for STEP_DELAY."""

    kind: VariantKind
    step_delay: timedelta | None = None

    @classmethod
    def all_at_once(cls) -> Variant:
        return cls(VariantKind.ALL_AT_ONCE)

    @classmethod
    def every(cls, delay: timedelta) -> Variant:
        return cls(VariantKind.STEP_DELAY, delay)

    @classmethod
    def record_only(cls) -> Variant:
        return cls(VariantKind.RECORD_ONLY)


@dataclass(frozen=True)
class Policy:
    """`repeat` counts the extra rounds: 0 runs the levels once, 2 runs them three times."""

    name: str
    levels: tuple[Level, ...]
    repeat: int = 0
    variants: Mapping[str, Variant] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Copied so that a caller mutating its dict cannot change a validated policy.
        object.__setattr__(self, "variants", dict(self.variants))
        _validate(self)

    @property
    def round_length(self) -> timedelta:
        return sum((level.delay for level in self.levels), timedelta())


# The escalation matrix the issue gives for the P scheme.
DEFAULT_MATRIX: Mapping[str, Variant] = {
    "P0": Variant.all_at_once(),
    "P1": Variant.every(timedelta(minutes=15)),
    "P2": Variant.every(timedelta(hours=1)),
    "P3": Variant.record_only(),
}


def _validate(policy: Policy) -> None:
    if not policy.name.strip():
        raise PolicyError("name", "a policy needs a name")
    if not policy.levels:
        raise PolicyError("levels", "a policy needs at least one level")
    for i, level in enumerate(policy.levels):
        where = f"levels[{i}]"
        if not level.targets:
            raise PolicyError(f"{where}.targets", "a level needs at least one target")
        for j, target in enumerate(level.targets):
            if target.kind not in _TARGET_KINDS:
                raise PolicyError(
                    f"{where}.targets[{j}].kind",
                    f"unknown target kind {target.kind!r}; expected one of {', '.join(_TARGET_KINDS)}",
                )
            if not target.key.strip():
                raise PolicyError(f"{where}.targets[{j}].key", "a target needs a key")
        if level.delay < timedelta():
            raise PolicyError(f"{where}.delay", f"must not be negative, not {level.delay}")
    if policy.repeat < 0:
        raise PolicyError("repeat", f"must be 0 or more, not {policy.repeat}")
    if policy.repeat > 0 and policy.round_length == timedelta():
        # Every round would fall on the same instant: the same people paged N times at once.
        raise PolicyError("repeat", "a policy whose levels all have no delay cannot repeat")
    for severity, variant in policy.variants.items():
        where = f"variants.{severity}"
        if variant.kind not in _VARIANT_KINDS:
            raise PolicyError(where, f"unknown variant {variant.kind!r}; expected one of {', '.join(_VARIANT_KINDS)}")
        if variant.kind == VariantKind.STEP_DELAY:
            if variant.step_delay is None or variant.step_delay <= timedelta():
                # A zero step delay is all_at_once under another name; make the author say so.
                raise PolicyError(f"{where}.step_delay", f"must be positive, not {variant.step_delay}")
        elif variant.step_delay is not None:
            raise PolicyError(f"{where}.step_delay", f"only a {VariantKind.STEP_DELAY} variant has a step delay")


_TARGET_KINDS = tuple(kind.value for kind in TargetKind)
_VARIANT_KINDS = tuple(kind.value for kind in VariantKind)


def check_severities(policy: Policy, scheme: SeverityScheme) -> None:
    """Variants live in config as code next to the scheme; a misspelt level would silently never apply."""
    for severity in policy.variants:
        if scheme.level(severity) is None:
            names = ", ".join(level.name for level in scheme.levels)
            raise PolicyError(f"variants.{severity}", f"not a level of severity scheme {scheme.name} ({names})")


@dataclass(frozen=True)
class Step:
    level: int  # index into policy.levels
    round: int  # 0 is the first pass; each repeat counts one up
    due_at: datetime  # UTC
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Plan:
    """The timetable for one incident; `reason` says why it is empty when nobody is paged."""

    policy: str
    severity: str
    started_at: datetime  # UTC
    steps: tuple[Step, ...]
    reason: str | None = None


def plan(policy: Policy, severity: str, started_at: datetime) -> Plan:
    """Every step the policy will take for an incident declared at `started_at`, in due order.

    All-at-once pages every level at each round's start; rounds are one
    ordinary round length (the sum of the level delays) apart, so an
    unanswered P0 is paged again as often as the policy would otherwise cycle.
    A severity without a variant uses the policy as written.
    """
    start = _utc(started_at, "started_at")
    variant = policy.variants.get(severity)
    if variant is not None and variant.kind == VariantKind.RECORD_ONLY:
        reason = f"{severity} is record-only in escalation policy {policy.name!r}: nobody is paged"
        return Plan(policy.name, severity, start, (), reason)

    steps: list[Step] = []
    at = start
    for round_ in range(policy.repeat + 1):
        if variant is not None and variant.kind == VariantKind.ALL_AT_ONCE:
            steps.extend(Step(i, round_, at, level.targets) for i, level in enumerate(policy.levels))
            at += policy.round_length
            continue
        for i, level in enumerate(policy.levels):
            steps.append(Step(i, round_, at, level.targets))
            at += variant.step_delay if variant is not None and variant.step_delay is not None else level.delay
    return Plan(policy.name, severity, start, tuple(steps))


def reescalate(policy: Policy, severity: str, released_at: datetime) -> Plan:
    """A released acknowledgement starts over from the first level, with every round.

    The old timetable is not resumed: it may have run out while the incident
    was acknowledged, and an incident nobody owns any more needs the first
    level again, not whichever level the old timetable happened to reach.
    """
    return plan(policy, severity, released_at)


def next_steps(plan: Plan, now: datetime, acknowledged_at: datetime | None, resolved_at: datetime | None) -> list[Step]:
    """The steps due at `now`: due at or before it, unless the escalation has stopped.

    See the module docstring for the stopping rule. Steps already sent are
    returned again; the engine's rows, keyed by (started_at, round, level),
    remember what went out.
    """
    now = _utc(now, "now")
    if _stopped(now, acknowledged_at, resolved_at):
        return []
    return [step for step in plan.steps if step.due_at <= now]


def upcoming(plan: Plan, now: datetime, acknowledged_at: datetime | None, resolved_at: datetime | None) -> Step | None:
    """The first step due after `now`, or None when the escalation will page no one else."""
    now = _utc(now, "now")
    if _stopped(now, acknowledged_at, resolved_at):
        return None
    return next((step for step in plan.steps if step.due_at > now), None)


def escalate_now(plan: Plan, now: datetime) -> Plan:
    """Moves the rest of the timetable up so that the next step is due at `now`.

    For a missed acknowledge target: the next level should not wait out the
    delay. "Next" is the first step due at or after `now`, so a step already
    due at `now` counts as escalated and a second call at the same instant
    (an engine cycle run twice) moves nothing more. The steps after it keep
    their spacing, so the level after next still gets its full delay to
    answer. Steps due before `now` are untouched; a plan with nothing left is
    returned as it is.
    """
    now = _utc(now, "now")
    index = next((i for i, step in enumerate(plan.steps) if step.due_at >= now), len(plan.steps))
    return _pull_forward(plan, index, now)


def escalate_past(plan: Plan, step: Step, now: datetime) -> Plan:
    """Makes the step after `step` due at `now`: every target of `step` was held by quiet hours
    or unreachable, so its page goes to the next level instead of waiting out the delay.

    Steps of an all-at-once round share their due instant, so passing over one
    of them moves nothing: the others are being paged already. Calling it
    again for the same step moves nothing more.
    """
    now = _utc(now, "now")
    index = next((i for i, s in enumerate(plan.steps) if (s.round, s.level) == (step.round, step.level)), None)
    if index is None:
        raise ValueError(f"step: round {step.round} level {step.level} is not in this plan")
    if plan.steps[index].due_at > now:
        raise ValueError(f"step: round {step.round} level {step.level} is not due until {plan.steps[index].due_at}")
    return _pull_forward(plan, index + 1, now)


def resume(plan: Plan, next_step: int, next_due_at: datetime) -> Plan | None:
    """The plan as an escalation stands when its step `next_step` is due at `next_due_at`:
    the steps from there on keep the plan's spacing from that instant (`escalate_now` and
    `escalate_past` pull them forward together). None when `next_step` is past the end."""
    if next_step >= len(plan.steps):
        return None
    shift = plan.steps[next_step].due_at - _utc(next_due_at, "next_due_at")
    if not shift:
        return plan
    head, tail = plan.steps[:next_step], plan.steps[next_step:]
    return replace(plan, steps=head + tuple(replace(s, due_at=s.due_at - shift) for s in tail))


@dataclass(frozen=True)
class Position:
    """Where a running escalation stands: the index of its next step in its plan, and when it is due."""

    next_step: int
    next_due_at: datetime  # UTC


def follow(old: Plan, new: Plan, next_step: int, next_due_at: datetime, now: datetime) -> Position | None:
    """Where an escalation at step `next_step` of `old` (due at `next_due_at`) goes on in `new`,
    the plan it has now: the incident's severity changed, or its policy was edited or replaced.
    None when `new` has nothing left to page from there. Both plans start at the same instant.

    - Where: the step that was next, by round and level, or the first one after it when the
      new policy has no such level. Levels already paged in this round are not paged again.
    - When: the wait for the next step counts from when the step before it was paged, at the
      new plan's spacing (all at once: no wait). A wait already over makes the step due now,
      not in the past, so a shorter spacing pages one more level now, not several at once.
      The first step, not yet paged, keeps its due time.
    """
    now = _utc(now, "now")
    next_due_at = _utc(next_due_at, "next_due_at")
    if next_step >= len(old.steps):
        return None
    current = old.steps[next_step]
    at = (current.round, current.level)
    index = next((i for i, step in enumerate(new.steps) if (step.round, step.level) >= at), None)
    if index is None:
        return None
    if next_step == 0 or index == 0:
        return Position(index, next_due_at)
    paged_at = next_due_at - (current.due_at - old.steps[next_step - 1].due_at)
    wait = new.steps[index].due_at - new.steps[index - 1].due_at
    return Position(index, max(now, paged_at + wait))


def _pull_forward(plan: Plan, index: int, now: datetime) -> Plan:
    if index >= len(plan.steps) or plan.steps[index].due_at <= now:
        return plan
    shift = plan.steps[index].due_at - now
    # Steps are in due order, so everything from `index` on is still in the future.
    steps = plan.steps[:index] + tuple(replace(s, due_at=s.due_at - shift) for s in plan.steps[index:])
    return replace(plan, steps=steps)


def _stopped(now: datetime, acknowledged_at: datetime | None, resolved_at: datetime | None) -> bool:
    # An acknowledgement "at or before now" includes the tie: ack and due instant equal means no page.
    for name, instant in (("acknowledged_at", acknowledged_at), ("resolved_at", resolved_at)):
        if instant is not None and _utc(instant, name) <= now:
            return True
    return False


def _utc(value: datetime, name: str) -> datetime:
    # Adding a timedelta to a datetime in a DST zone adds wall-clock time; in UTC it adds real time.
    if value.tzinfo is None:
        raise ValueError(f"{name}: needs a timezone-aware datetime")
    return value.astimezone(UTC)
