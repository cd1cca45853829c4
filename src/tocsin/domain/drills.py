"""The drill report: how fast a practice response reached each milestone, against the severity's targets.

Every time is measured from the drill's start, the moment its first signal fired: what a
responder experiences from the first page on. The targets come from the severity policy:

| milestone | reached when | target |
|---|---|---|
| acknowledge | the incident was first acknowledged | `ack_within` |
| declare | the incident was declared (at once when an alert opened it) | `ack_within` |
| commander | a commander was first assigned | `ack_within` |
| first update | the first status update was posted | `update_every` |
| mitigate | the incident was first mitigated (monitoring or resolved) | `resolve_within` |

Declaring and naming a commander belong to the first minutes of a response, the same window
as acknowledging; the first update is owed one cadence after the start; mitigation must come
before the resolve target, or the resolve target cannot be met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tocsin.domain.severity import SeverityPolicy
from tocsin.domain.timeline import EntryKind


class Scenario(StrEnum):
    DATABASE_OUTAGE = "database-outage"
    PAYMENT_PROVIDER_OUTAGE = "payment-provider-outage"
    AUTH_BROKEN = "auth-broken"
    BAD_DEPLOY = "bad-deploy"


class State(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"  # its incident was resolved
    CANCELED = "canceled"  # its incident was canceled, or the drill stopped


class Verdict(StrEnum):
    MET = "met"
    MISSED = "missed"
    PENDING = "pending"  # not reached yet, the target not yet passed
    NOT_REACHED = "not reached"  # the drill ended first; no target to miss
    NO_TARGET = "no target"


class Milestone(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DECLARE = "declare"
    COMMANDER = "commander"
    FIRST_UPDATE = "first update"
    MITIGATE = "mitigate"


@dataclass(frozen=True)
class Entry:
    """What the report reads of a timeline entry."""

    kind: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Measure:
    milestone: Milestone
    at: datetime | None  # when it was reached; None: not (yet)
    took: timedelta | None  # from the drill's start
    target: timedelta | None
    verdict: Verdict


@dataclass(frozen=True)
class Report:
    started_at: datetime
    ended_at: datetime | None
    measures: tuple[Measure, ...]
    roles: Mapping[str, timedelta]  # every role first assigned, how long after the start

    @property
    def met(self) -> int:
        return sum(1 for m in self.measures if m.verdict == Verdict.MET)

    @property
    def missed(self) -> int:
        return sum(1 for m in self.measures if m.verdict == Verdict.MISSED)


def report(
    *,
    started_at: datetime,
    declared_at: datetime,
    acknowledged_at: datetime | None,
    mitigated_at: datetime | None,
    ended_at: datetime | None,
    entries: Sequence[Entry],
    policy: SeverityPolicy,
    now: datetime,
) -> Report:
    """The report of a drill started at `started_at` whose incident has these milestones and
    this timeline; `ended_at` None while it runs (a milestone not reached is then pending
    until its target passes)."""
    ordered = sorted(entries, key=lambda entry: entry.at)
    roles: dict[str, datetime] = {}
    for entry in ordered:
        role = entry.data.get("role") if entry.kind == EntryKind.ROLE else None
        if isinstance(role, str) and role not in roles:
            roles[role] = entry.at
    first_update = next((entry.at for entry in ordered if entry.kind == EntryKind.UPDATE), None)
    reached = {
        Milestone.ACKNOWLEDGE: (acknowledged_at, policy.ack_within),
        Milestone.DECLARE: (declared_at, policy.ack_within),
        Milestone.COMMANDER: (roles.get("commander"), policy.ack_within),
        Milestone.FIRST_UPDATE: (first_update, policy.update_every),
        Milestone.MITIGATE: (mitigated_at, policy.resolve_within),
    }
    measures = tuple(
        _measure(milestone, at, target, started_at, ended_at, now) for milestone, (at, target) in reached.items()
    )
    return Report(
        started_at=started_at,
        ended_at=ended_at,
        measures=measures,
        roles={role: max(at - started_at, timedelta()) for role, at in roles.items()},
    )


def _measure(
    milestone: Milestone,
    at: datetime | None,
    target: timedelta | None,
    started_at: datetime,
    ended_at: datetime | None,
    now: datetime,
) -> Measure:
    if at is not None:
        took = max(at - started_at, timedelta())
        verdict = Verdict.NO_TARGET if target is None else Verdict.MET if took <= target else Verdict.MISSED
        return Measure(milestone, at, took, target, verdict)
    end = ended_at if ended_at is not None else now
    if target is not None and end - started_at > target:
        return Measure(milestone, None, None, target, Verdict.MISSED)
    if ended_at is None:
        return Measure(milestone, None, None, target, Verdict.PENDING)
    return Measure(milestone, None, None, target, Verdict.NOT_REACHED)


def ended(status: str) -> State | None:
    """The state a drill ends in when its incident has this status; None while it runs."""
    return {"resolved": State.FINISHED, "canceled": State.CANCELED}.get(status)
