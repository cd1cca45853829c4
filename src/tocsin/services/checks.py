"""Health checks: their definitions, the slots schedulers claim, and results into alerts.

Each service's checks share one internal integration of kind `check`, made
with the service's first check, so their alerts are routed, grouped, held by
maintenance windows and paged like any other: a check that goes down triggers
`check:<name>` (labels `check`, `kind`, `target`, so a routing or channel rule
can pick them out); its recovery resolves it.

Schedulers (tocsin.engine.checks) claim slots with `claim_due` and hand back
a batch of results to `record_results`, one transaction for many checks. A
result is applied only while its slot is still the check's and claimed by the
process that ran it: a slot taken over after a lapsed claim counts once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tocsin.domain import checks as domain
from tocsin.domain.alerts import Action, Signal
from tocsin.domain.naming import key_problem
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import alerts, audit, directory, integrations
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import checks as repo

ROLLUP_DAYS = 90
DEFAULT_RETENTION = timedelta(days=7)
WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)),
    ("30d", timedelta(days=30)),
    ("90d", timedelta(days=90)),
)


@dataclass(frozen=True)
class Definition:
    """What a person (API, CLI, config file) says a check is."""

    kind: str
    spec: Mapping[str, Any]
    interval_s: int = 60
    timeout_s: int = 10
    failures_before_down: int = domain.DEFAULT_FAILURES_BEFORE_DOWN
    successes_before_up: int = domain.DEFAULT_SUCCESSES_BEFORE_UP
    reminder_every_s: int | None = None
    description: str = ""


@dataclass(frozen=True)
class Claimed:
    """A slot a scheduler holds: all it needs to run the probe, without the session."""

    check_id: int
    name: str
    spec: domain.Spec
    slot: datetime
    timeout_s: float


@dataclass(frozen=True)
class RunResult:
    check_id: int
    slot: datetime | None  # None: a run-now, outside the schedule
    started_at: datetime
    verdict: domain.Verdict
    response_ms: float | None
    held: bool = False


@dataclass(frozen=True)
class Recorded:
    applied: int  # results that counted (a lapsed claim's are dropped)
    opened: bool  # an alert declared an incident: page now


def validate(definition: Definition) -> tuple[domain.Kind, domain.Spec, domain.Policy]:
    """The parsed kind, spec and policy, or ValidationFailed naming the field (`spec.<name>` inside the spec)."""
    try:
        kind = domain.parse_kind(definition.kind)
        spec = domain.parse_spec(kind, definition.spec)
    except domain.Problem as problem:
        field = problem.field if problem.field == "kind" else f"spec.{problem.field}"
        raise ValidationFailed(problem.message, field=field) from None
    policy = policy_of_values(
        definition.interval_s,
        definition.timeout_s,
        definition.failures_before_down,
        definition.successes_before_up,
        definition.reminder_every_s,
    )
    wrong = domain.policy_problem(policy)
    if wrong is not None:
        raise ValidationFailed(wrong.message, field=wrong.field)
    return kind, spec, policy


def policy_of_values(
    interval_s: int, timeout_s: int, failures: int, successes: int, reminder_every_s: int | None
) -> domain.Policy:
    return domain.Policy(
        interval=timedelta(seconds=interval_s),
        timeout=timedelta(seconds=timeout_s),
        failures_before_down=failures,
        successes_before_up=successes,
        reminder_every=timedelta(seconds=reminder_every_s) if reminder_every_s is not None else None,
    )


def policy_of(row: models.Check) -> domain.Policy:
    return policy_of_values(
        row.interval_s, row.timeout_s, row.failures_before_down, row.successes_before_up, row.reminder_every_s
    )


def spec_of(row: models.Check) -> domain.Spec:
    return domain.parse_spec(domain.Kind(row.kind), row.spec)


def state_of(row: models.Check) -> domain.State:
    return domain.State(
        status=domain.Status(row.status),
        failures=row.failures,
        successes=row.successes,
        alerting=row.alerting,
        alerted_at=row.alerted_at,
    )


def _store(row: models.Check, state: domain.State) -> None:
    row.status = state.status.value
    row.failures = state.failures
    row.successes = state.successes
    row.alerting = state.alerting
    row.alerted_at = state.alerted_at


def create(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    service_key: str,
    name: str,
    definition: Definition,
    managed: bool = False,
) -> models.Check:
    service = directory.get_service(session, service_key)
    problem = key_problem(name)
    if problem:
        raise ValidationFailed(problem, field="name")
    if repo.by_name(session, name) is not None:
        raise Conflict(f"a check named {name!r} exists already", field="name")
    kind, _spec, policy = validate(definition)
    _integration(session, now, service)
    row = models.Check(
        service_id=service.id,
        name=name,
        description=definition.description,
        kind=kind.value,
        spec=dict(definition.spec),
        interval_s=definition.interval_s,
        timeout_s=definition.timeout_s,
        failures_before_down=definition.failures_before_down,
        successes_before_up=definition.successes_before_up,
        reminder_every_s=definition.reminder_every_s,
        status=domain.Status.NEW.value,
        failures=0,
        successes=0,
        alerting=False,
        last_reason="",
        managed=managed,
        created_at=now,
        next_run_at=domain.next_slot(name, policy.interval, now),
    )
    row.service = service
    session.add(row)
    audit.record(session, actor, now, "create", "check", name, {"service": service.key, "kind": kind.value})
    session.flush()
    return row


def update(
    session: Session,
    actor: Actor,
    now: datetime,
    ref: str,
    definition: Definition,
    *,
    service_key: str | None = None,
    managed: bool | None = None,
) -> models.Check:
    """Replace a check's definition; its status and counts carry on, its next slot follows the new interval."""
    row = get(session, ref)
    kind, _spec, policy = validate(definition)
    if service_key is not None and service_key != row.service.key:
        if row.alerting:
            _signal(session, now, row, domain.Effect.RESOLVE, "")
            row.alerting = False
        service = directory.get_service(session, service_key)
        _integration(session, now, service)
        row.service_id = service.id
        row.service = service
    row.kind = kind.value
    row.spec = dict(definition.spec)
    row.description = definition.description
    interval_changed = row.interval_s != definition.interval_s
    row.interval_s = definition.interval_s
    row.timeout_s = definition.timeout_s
    row.failures_before_down = definition.failures_before_down
    row.successes_before_up = definition.successes_before_up
    row.reminder_every_s = definition.reminder_every_s
    if managed is not None:
        row.managed = managed
    if row.status != domain.Status.PAUSED.value and (interval_changed or row.next_run_at is None):
        row.next_run_at = domain.next_slot(row.name, policy.interval, now)
        row.claimed_until = None
        row.claimed_by = None
    audit.record(session, actor, now, "update", "check", row.name, {"kind": kind.value})
    session.flush()
    return row


def get(session: Session, ref: str) -> models.Check:
    row = repo.by_name(session, ref)
    if row is None:
        raise NotFound(f"no check {ref!r}", field="check")
    return row


def list_checks(session: Session, service_key: str | None = None) -> list[models.Check]:
    service_id = directory.get_service(session, service_key).id if service_key else None
    return list(repo.list_checks(session, service_id))


def recent_results(session: Session, row: models.Check, limit: int = 20) -> list[models.CheckResult]:
    return list(repo.recent_results(session, row.id, limit))


def pause(session: Session, actor: Actor, now: datetime, ref: str) -> models.Check:
    """Stop running it. A firing alert is resolved: nothing would resolve it while paused."""
    row = get(session, ref)
    if row.alerting:
        _signal(session, now, row, domain.Effect.RESOLVE, "")
    _store(row, domain.pause(state_of(row)))
    row.alerting = False
    row.next_run_at = None
    row.claimed_until = None
    row.claimed_by = None
    audit.record(session, actor, now, "pause", "check", row.name, {})
    session.flush()
    return row


def resume(session: Session, actor: Actor, now: datetime, ref: str) -> models.Check:
    row = get(session, ref)
    if row.status != domain.Status.PAUSED.value:
        raise Conflict(f"check {row.name!r} is not paused", field="check")
    _store(row, domain.resume(state_of(row)))
    row.next_run_at = domain.next_slot(row.name, policy_of(row).interval, now)
    audit.record(session, actor, now, "resume", "check", row.name, {})
    session.flush()
    return row


def delete(session: Session, actor: Actor, now: datetime, ref: str) -> None:
    """Its firing alert, if any, is resolved: nothing would ever resolve it otherwise."""
    row = get(session, ref)
    if row.alerting:
        _signal(session, now, row, domain.Effect.RESOLVE, "")
    audit.record(session, actor, now, "delete", "check", row.name, {"kind": row.kind})
    repo.delete_check(session, row)
    session.flush()


# ---- the scheduler's side ------------------------------------------------------------------


def claim_due(
    session: Session, now: datetime, horizon: timedelta, holder: str, lease_for_s: float = 30.0, limit: int = 2000
) -> list[Claimed]:
    """Claim the slots due before now + horizon. The caller commits before it runs them."""
    claimed = []
    for row in repo.claim_due(session, now, now + horizon, holder, lease_for_s, limit):
        assert row.next_run_at is not None
        try:
            spec = spec_of(row)
        except domain.Problem:
            continue  # stored before a stricter rule: its claim lapses, shown as never run
        claimed.append(Claimed(row.id, row.name, spec, row.next_run_at, float(row.timeout_s)))
    return claimed


def earliest_due(session: Session, now: datetime) -> datetime | None:
    return repo.earliest_due(session, now)


def record_results(session: Session, now: datetime, results: Sequence[RunResult], holder: str | None) -> Recorded:
    """Store a batch of results and act on them. `holder`: the scheduler that claimed their
    slots (a result whose slot is no longer its claim is dropped); None for run-now results,
    which count without touching the schedule."""
    rows = repo.lock_for_results(session, (r.check_id for r in results))
    stored: list[dict[str, Any]] = []
    rollup_values: dict[tuple[int, datetime], list[RunResult]] = {}
    opened = False
    for result in results:
        row = rows.get(result.check_id)
        if row is None:
            continue  # deleted while it ran
        if result.slot is not None:
            if row.claimed_by != holder or row.next_run_at != result.slot:
                continue  # the claim lapsed and another process has the slot now
            following = domain.next_slot(row.name, timedelta(seconds=row.interval_s), result.slot)
            if following <= now:  # late by a whole interval or more: run at the next slot to come
                following = domain.next_slot(row.name, timedelta(seconds=row.interval_s), now)
            row.next_run_at = following if row.status != domain.Status.PAUSED.value else None
            row.claimed_until = None
            row.claimed_by = None
        elif row.status == domain.Status.PAUSED.value:
            continue
        ms = None if result.response_ms is None else round(result.response_ms)
        stored.append(
            {
                "check_id": row.id,
                "at": result.started_at,
                "slot": result.slot or result.started_at,
                "up": result.verdict.up,
                "held": result.held,
                "response_ms": ms,
                "reason": result.verdict.reason[: domain.REASON_LIMIT],
            }
        )
        rollup_values.setdefault((row.id, domain.hour_of(result.started_at)), []).append(result)
        row.last_result_at = result.started_at
        row.last_up = result.verdict.up
        row.last_reason = result.verdict.reason[: domain.REASON_LIMIT]
        row.last_response_ms = ms
        if result.held:
            continue  # Tocsin lost the network: it says nothing about the check
        transition = domain.step(policy_of(row), state_of(row), result.verdict.up, result.started_at)
        _store(row, transition.state)
        if transition.effect != domain.Effect.NONE:
            opened = _signal(session, now, row, transition.effect, result.verdict.reason) or opened
    repo.add_results(session, stored)
    _add_to_rollups(session, rollup_values)
    session.flush()
    return Recorded(applied=len(stored), opened=opened)


def _add_to_rollups(session: Session, values: dict[tuple[int, datetime], list[RunResult]]) -> None:
    rollups = repo.rollups_for_update(session, set(values))
    for key, results in values.items():
        rollup = rollups[key]
        counted = [r for r in results if not r.held]
        rollup.count += len(counted)
        rollup.up += sum(1 for r in counted if r.verdict.up)
        rollup.held += len(results) - len(counted)
        times = [r.response_ms for r in counted if r.response_ms is not None and r.verdict.up]
        if times:
            rollup.histogram = domain.add_to_histogram(rollup.histogram or [], times)
            rollup.max_ms = max(rollup.max_ms, round(max(times)))


def prune(session: Session, now: datetime, retention: timedelta = DEFAULT_RETENTION, limit: int = 10_000) -> int:
    """Raw results past the retention and rollups past 90 days; how many rows went."""
    gone = repo.prune_results(session, now - retention, limit)
    gone += repo.prune_rollups(session, domain.hour_of(now - timedelta(days=ROLLUP_DAYS)))
    session.flush()
    return gone


# ---- what people read ----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    name: str
    uptime_percent: float | None  # None: no counted result in it
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: int | None


def windows(session: Session, row: models.Check, now: datetime) -> list[Window]:
    """Uptime and response-time percentiles over 24 h, 7, 30 and 90 days, from the rollups."""
    hour = domain.hour_of(now)
    rollups = repo.rollups_since(session, row.id, hour - timedelta(days=ROLLUP_DAYS))
    out = []
    for name, span in WINDOWS:
        # A window is its whole hours back from the current one, which is counted as far as it went.
        inside = [r for r in rollups if r.hour > hour - span]
        count = sum(r.count for r in inside)
        up = sum(r.up for r in inside)
        histogram = domain.merge_histograms([r.histogram for r in inside])
        out.append(
            Window(
                name=name,
                uptime_percent=round(100 * up / count, 3) if count else None,
                count=count,
                p50_ms=domain.percentile(histogram, 50),
                p95_ms=domain.percentile(histogram, 95),
                p99_ms=domain.percentile(histogram, 99),
                max_ms=max((r.max_ms for r in inside), default=None) if count else None,
            )
        )
    return out


# ---- alerts ------------------------------------------------------------------------------


def _integration(session: Session, now: datetime, service: models.Service) -> integrations.IntegrationRef:
    return integrations.internal(session, now, service, integrations.Kind.CHECK)


def _signal(session: Session, now: datetime, row: models.Check, effect: domain.Effect, reason: str) -> bool:
    """Trigger (raise, remind) or resolve the check's alert; whether that declared an incident."""
    integration = _integration(session, now, row.service)
    key = f"check:{row.name}"
    if effect == domain.Effect.RESOLVE:
        signal = Signal(action=Action.RESOLVE, dedup_key=key, source="check")
    else:
        try:
            target = domain.target_of(spec_of(row))
        except domain.Problem:
            target = row.kind
        tls_warning = row.kind == domain.Kind.TLS.value and "expires in" in reason
        signal = Signal(
            action=Action.TRIGGER,
            dedup_key=key,
            summary=f"Check {row.name} is down: {reason}"[:500],
            source="check",
            severity="warning" if tls_warning else "error",
            labels={"check": row.name, "kind": row.kind, "target": target[:200]},
            details={
                "check": row.name,
                "kind": row.kind,
                "target": target,
                "reason": reason,
                "failures": row.failures,
                "reminder": effect == domain.Effect.REMIND,
            },
        )
    outcomes = alerts.ingest(session, now, integration, [signal])
    return any(outcome.opened for outcome in outcomes)
