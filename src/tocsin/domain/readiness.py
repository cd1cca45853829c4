"""The readiness audit: how complete a team's incident pipeline is, the way an SRE review scores it.

Each component is scored 0-100 from facts the service gathers (services.readiness), with
the evidence behind the score and the next step that would raise it. A component with
nothing to measure yet (no postmortem has fallen due) has no score and is left out of the
total. The total is the weighted mean of the scored components ("pipeline 72% complete");
next steps are ordered by what they would add to it: weight * (100 - score).

Weights say what matters most when something breaks at 3 a.m.: someone must be paged
(escalation policy), somebody must be on call (coverage) and reachable (3 each); then
signals that something broke (CI/deploy notifications, health checks) and what the team
does with incidents (runbooks, postmortems, action items) (2 each); the rest 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from tocsin.domain import channel_routing

# A sender that sent nothing in this long is "not receiving".
RECENT = timedelta(days=7)
# On-call coverage and reachability look this far ahead.
COVERAGE_AHEAD = timedelta(days=14)
CI_FAILURE = "ci.failure"
DEPLOY_FAILED = channel_routing.EventType.DEPLOY_FAILED.value


class Key(StrEnum):
    ESCALATION = "escalation_policies"
    COVERAGE = "on_call_coverage"
    REACHABLE = "on_call_reachable"
    FAILURE_NOTIFICATIONS = "failure_notifications"
    HEALTH_CHECKS = "health_checks"
    RUNBOOKS = "runbooks"
    POSTMORTEMS = "postmortems_on_time"
    ACTION_ITEMS = "action_items_closed"
    CRASH_REPORTING = "crash_reporting"
    REPEATED_FAILURES = "repeated_failure_alerts"
    HEARTBEATS = "heartbeats"


TITLES: dict[Key, str] = {
    Key.ESCALATION: "Escalation policy on every service",
    Key.COVERAGE: "24/7 on-call coverage, next 2 weeks",
    Key.REACHABLE: "Every on-call person reachable",
    Key.FAILURE_NOTIFICATIONS: "Notifications for CI and deploy failures",
    Key.HEALTH_CHECKS: "Health checks",
    Key.RUNBOOKS: "Runbooks attached",
    Key.POSTMORTEMS: "Postmortems completed on time",
    Key.ACTION_ITEMS: "Action items closed",
    Key.CRASH_REPORTING: "Crash reporting receiving",
    Key.REPEATED_FAILURES: "Repeated-failure alerts (CI)",
    Key.HEARTBEATS: "Heartbeats",
}

WEIGHTS: dict[Key, int] = {
    Key.ESCALATION: 3,
    Key.COVERAGE: 3,
    Key.REACHABLE: 3,
    Key.FAILURE_NOTIFICATIONS: 2,
    Key.HEALTH_CHECKS: 2,
    Key.RUNBOOKS: 2,
    Key.POSTMORTEMS: 2,
    Key.ACTION_ITEMS: 2,
    Key.CRASH_REPORTING: 1,
    Key.REPEATED_FAILURES: 1,
    Key.HEARTBEATS: 1,
}


@dataclass(frozen=True)
class Component:
    key: str
    title: str
    weight: int
    score: int | None  # None: nothing to measure yet (left out of the total)
    evidence: list[str]
    next_step: str | None  # None when the score is 100 (or nothing can be measured)


@dataclass(frozen=True)
class NextStep:
    component: str
    step: str
    gain: float  # points the total would rise with this component at 100


@dataclass(frozen=True)
class Audit:
    team: str | None
    at: datetime
    total: int  # percent
    components: list[Component]
    next_steps: list[NextStep] = field(default_factory=list)


def _component(key: Key, score: int | None, evidence: list[str], step: str | None) -> Component:
    return Component(key.value, TITLES[key], WEIGHTS[key], score, evidence, step if score != 100 else None)


def _share(part: int, whole: int) -> int:
    """A percentage rounded down, so anything short of all is short of 100."""
    return 0 if whole == 0 else (100 * part) // whole


def _names(keys: Iterable[str], limit: int = 5) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


# ---- facts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceFacts:
    id: int
    key: str
    has_policy: bool  # an escalation policy with at least one level that targets someone
    checks: int  # active (not paused) health checks


@dataclass(frozen=True)
class Sender:
    """An integration that should be sending: GitHub (webhooks) or Sentry (crashes)."""

    name: str
    service: str
    last_received_at: datetime | None
    repeated_failure_rule: bool = False  # GitHub: failures in a row or in a window raise an alert


@dataclass(frozen=True)
class HeartbeatFacts:
    name: str
    status: str  # new / up / down / paused


@dataclass(frozen=True)
class ScheduleCoverage:
    key: str
    gaps: Sequence[tuple[datetime, datetime, str]]  # (start, end, description) in the window


@dataclass(frozen=True)
class Responder:
    email: str
    verified_method: bool


@dataclass(frozen=True)
class Deadlines:
    """Things with a due date: how many were done by it, done late or not done and past it."""

    on_time: int
    late: int
    missing: int  # not done and past due


# ---- the components -------------------------------------------------------------------


def escalation(services: Sequence[ServiceFacts]) -> Component:
    if not services:
        return _component(Key.ESCALATION, 0, ["no services"], "create a service and give it an escalation policy")
    without = [s.key for s in services if not s.has_policy]
    score = _share(len(services) - len(without), len(services))
    evidence = [f"{len(services) - len(without)} of {len(services)} services have an escalation policy"]
    if without:
        evidence.append(f"without: {_names(without)}")
    return _component(Key.ESCALATION, score, evidence, f"give {_names(without)} an escalation policy")


def coverage(schedules: Sequence[ScheduleCoverage], now: datetime, ahead: timedelta = COVERAGE_AHEAD) -> Component:
    if not schedules:
        return _component(
            Key.COVERAGE, 0, ["no on-call schedule is used by an escalation policy"],
            "create an on-call schedule and put it in the services' escalation policy",
        )  # fmt: skip
    window = ahead.total_seconds()
    evidence: list[str] = []
    fractions: list[float] = []
    first_gaps: list[str] = []
    for schedule in schedules:
        missing = sum((min(end, now + ahead) - max(start, now)).total_seconds() for start, end, _ in schedule.gaps)
        fractions.append(max(0.0, 1 - missing / window))
        if schedule.gaps:
            hours = missing / 3600
            evidence.append(
                f"{schedule.key}: {len(schedule.gaps)} gaps, {hours:.0f} h uncovered; first: {schedule.gaps[0][2]}"
            )
            first_gaps.append(schedule.key)
        else:
            evidence.append(f"{schedule.key}: covered around the clock")
    score = int(100 * sum(fractions) / len(fractions))
    if first_gaps and score == 100:
        score = 99  # a gap of minutes is still a gap
    return _component(
        Key.COVERAGE, score, evidence, f"fill the gaps in {_names(first_gaps)} (add a layer or overrides)"
    )


def reachable(people: Sequence[Responder]) -> Component:
    if not people:
        return _component(Key.REACHABLE, 0, ["nobody is on call in the next 2 weeks"], "put people on call")
    unreachable = [p.email for p in people if not p.verified_method]
    score = _share(len(people) - len(unreachable), len(people))
    evidence = [f"{len(people) - len(unreachable)} of {len(people)} on-call people have a verified contact method"]
    if unreachable:
        evidence.append(f"not verified: {_names(unreachable)}")
    return _component(
        Key.REACHABLE,
        score,
        evidence,
        f"{_names(unreachable)}: add and verify a contact method (`tocsin contact verify`)",
    )


def _receiving(sender: Sender, now: datetime) -> bool:
    return sender.last_received_at is not None and now - sender.last_received_at <= RECENT


def failure_notifications(
    services: Sequence[ServiceFacts], routes: Sequence[channel_routing.Route], github: Sequence[Sender], now: datetime
) -> Component:
    """35 points for routing CI failures to a channel, 35 for deploy failures (each the share of
    services covered), 30 for a GitHub integration that received a webhook in the last 7 days."""
    if not services:
        return _component(Key.FAILURE_NOTIFICATIONS, 0, ["no services"], "create a service")
    evidence: list[str] = []
    steps: list[str] = []
    unrouted: list[str] = []
    score = 0.0
    for event, points in ((CI_FAILURE, 35), (DEPLOY_FAILED, 35)):
        heard = [
            s.key
            for s in services
            if channel_routing.channels_for(channel_routing.Event(event, frozenset({s.id})), routes, {})
        ]
        score += points * len(heard) / len(services)
        evidence.append(f"{event} reaches a channel for {len(heard)} of {len(services)} services")
        if len(heard) < len(services):
            unrouted.append(event)
    if unrouted:
        steps.append(f"route {' and '.join(unrouted)} to a team channel (`tocsin channel create --route`)")
    receiving = [g for g in github if _receiving(g, now)]
    if receiving:
        score += 30
        evidence.append(f"GitHub: {len(receiving)} of {len(github)} integrations received webhooks in the last 7 days")
    elif github:
        score += 10
        evidence.append(f"GitHub: {len(github)} integrations, none received a webhook in the last 7 days")
        steps.append("check the GitHub webhook (Settings → Webhooks → Recent deliveries)")
    else:
        evidence.append("no GitHub integration")
        steps.append("add a GitHub integration and point the repository's webhook at it")
    return _component(Key.FAILURE_NOTIFICATIONS, int(score), evidence, "; ".join(steps) or None)


def crash_reporting(sentry: Sequence[Sender], now: datetime) -> Component:
    if not sentry:
        return _component(
            Key.CRASH_REPORTING, 0, ["no crash-reporting (Sentry) integration"],
            "add a Sentry integration and set the apps' SENTRY_DSN to it",
        )  # fmt: skip
    quiet = [f"{s.name} ({s.service})" for s in sentry if not _receiving(s, now)]
    score = _share(len(sentry) - len(quiet), len(sentry))
    evidence = [f"{len(sentry) - len(quiet)} of {len(sentry)} Sentry integrations received events in the last 7 days"]
    if quiet:
        evidence.append(f"quiet: {_names(quiet)}")
    return _component(
        Key.CRASH_REPORTING, score, evidence, f"check the DSN of {_names(quiet)}: nothing arrived in 7 days"
    )


def repeated_failures(github: Sequence[Sender]) -> Component:
    if not github:
        return _component(
            Key.REPEATED_FAILURES, 0, ["no GitHub integration counts CI failures"],
            "add a GitHub integration: a workflow failing again and again then raises an alert",
        )  # fmt: skip
    off = [g.name for g in github if not g.repeated_failure_rule]
    score = _share(len(github) - len(off), len(github))
    evidence = [f"{len(github) - len(off)} of {len(github)} GitHub integrations alert on repeated CI failures"]
    return _component(
        Key.REPEATED_FAILURES, score, evidence, f"turn on failures_in_a_row or failures_in_window for {_names(off)}"
    )


def health_checks(services: Sequence[ServiceFacts]) -> Component:
    if not services:
        return _component(Key.HEALTH_CHECKS, 0, ["no services"], "create a service and add a health check")
    without = [s.key for s in services if s.checks == 0]
    score = _share(len(services) - len(without), len(services))
    evidence = [f"{len(services) - len(without)} of {len(services)} services have an active health check"]
    return _component(
        Key.HEALTH_CHECKS, score, evidence, f"add a health check to {_names(without)} (`tocsin check create`)"
    )


def heartbeats(beats: Sequence[HeartbeatFacts]) -> Component:
    active = [b for b in beats if b.status != "paused"]
    if not active:
        return _component(
            Key.HEARTBEATS, 0, ["no active heartbeat: a cron job that stops running goes unnoticed"],
            "add a heartbeat for each scheduled job (`tocsin heartbeat create`)",
        )  # fmt: skip
    not_up = [f"{b.name} ({b.status})" for b in active if b.status != "up"]
    score = _share(len(active) - len(not_up), len(active))
    evidence = [f"{len(active) - len(not_up)} of {len(active)} heartbeats are up"]
    if not_up:
        evidence.append(f"not up: {_names(not_up)}")
    return _component(Key.HEARTBEATS, score, evidence, f"get {_names(not_up)} pinging")


def runbooks(covered: Sequence[str], uncovered: Sequence[str]) -> Component:
    total = len(covered) + len(uncovered)
    if total == 0:
        return _component(Key.RUNBOOKS, 0, ["no services"], "create a service and write its runbook")
    score = _share(len(covered), total)
    evidence = [f"{len(covered)} of {total} services have a runbook of the team's own"]
    return _component(Key.RUNBOOKS, score, evidence, f"write a runbook for {_names(uncovered)}")


def postmortems(deadlines: Deadlines) -> Component:
    due = deadlines.on_time + deadlines.late + deadlines.missing
    if due == 0:
        return _component(Key.POSTMORTEMS, None, ["no postmortem fell due in the last 90 days"], None)
    score = _share(deadlines.on_time, due)
    evidence = [
        f"{deadlines.on_time} of {due} postmortems due in the last 90 days were published on time"
        f" ({deadlines.late} late, {deadlines.missing} still unpublished)"
    ]
    return _component(
        Key.POSTMORTEMS, score, evidence, "publish the overdue postmortems; review drafts before they fall due"
    )


def action_items(deadlines: Deadlines) -> Component:
    due = deadlines.on_time + deadlines.late + deadlines.missing
    if due == 0:
        return _component(Key.ACTION_ITEMS, None, ["no action item fell due in the last 90 days"], None)
    score = _share(deadlines.on_time + deadlines.late, due)
    evidence = [
        f"{deadlines.on_time + deadlines.late} of {due} action items due in the last 90 days are done"
        f" ({deadlines.late} late); {deadlines.missing} overdue"
    ]
    return _component(
        Key.ACTION_ITEMS, score, evidence, f"close the {deadlines.missing} overdue action items (P0/P1 first)"
    )


# ---- the audit ------------------------------------------------------------------------


def audit(team: str | None, at: datetime, components: Sequence[Component]) -> Audit:
    scored = [c for c in components if c.score is not None]
    weight = sum(c.weight for c in scored)
    total = 0 if weight == 0 else int(sum(c.weight * (c.score or 0) for c in scored) / weight)
    steps = [
        NextStep(c.key, c.next_step, round(c.weight * (100 - (c.score or 0)) / weight, 1))
        for c in scored
        if c.next_step is not None and c.score is not None and c.score < 100
    ]
    order = {key.value: i for i, key in enumerate(Key)}
    steps.sort(key=lambda s: (-s.gain, order.get(s.component, len(order))))
    ordered = sorted(components, key=lambda c: order.get(c.key, len(order)))
    return Audit(team=team, at=at, total=total, components=ordered, next_steps=steps)
