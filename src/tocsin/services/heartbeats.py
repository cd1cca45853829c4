"""Heartbeats: pings in, and alerts out through the same ingestion as every other signal.

Each service's heartbeats share one internal integration of kind `heartbeat`,
made with the first heartbeat of the service, so their alerts are routed,
grouped, held by maintenance windows and paged like any other: a failure (a
`/fail` ping, a non-zero exit status, a run outside its bounds) or a missed
ping triggers the alert `heartbeat:<uuid>`; the next good ping resolves it.

A ping locks its heartbeat row while it is recorded, and the engine claims a
heartbeat that went down with a conditional update: a ping and the engine, or
two engines, never both decide its status.
"""

from __future__ import annotations

import uuid as uuids
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tocsin.domain import heartbeats as domain
from tocsin.domain.alerts import Action, Signal
from tocsin.domain.naming import key_problem
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import alerts, audit, directory, integrations
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import heartbeats as repo

# Pings kept per heartbeat: the newest KEEP_PINGS, pruned every PRUNE_EVERY pings.
KEEP_PINGS = 100
PRUNE_EVERY = 10


@dataclass(frozen=True)
class Ping:
    kind: domain.PingKind
    method: str
    body: bytes = b""
    exit_status: int | None = None
    rid: str | None = None
    remote_addr: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class PingResult:
    status: domain.Status
    effect: domain.Effect
    opened: bool = False  # its alert declared an incident: page now


def schedule_of(row: models.Heartbeat) -> domain.Schedule:
    return domain.Schedule(
        grace=timedelta(seconds=row.grace_s),
        period=timedelta(seconds=row.period_s) if row.period_s is not None else None,
        cron=row.cron,
        time_zone=row.time_zone,
        min_run=timedelta(seconds=row.min_run_s) if row.min_run_s is not None else None,
        max_run=timedelta(seconds=row.max_run_s) if row.max_run_s is not None else None,
    )


def state_of(row: models.Heartbeat) -> domain.State:
    return domain.State(
        status=domain.Status(row.status),
        last_ping_at=row.last_ping_at,
        started_at=row.started_at,
        alerting=row.alerting,
    )


def status_at(row: models.Heartbeat, now: datetime) -> domain.Status:
    return domain.status_at(schedule_of(row), state_of(row), now)


def ping_url(base: str, row: models.Heartbeat) -> str:
    return f"{base.rstrip('/')}/ping/{row.uuid}"


def _seconds(span: timedelta | None) -> int | None:
    return None if span is None else int(span.total_seconds())


def create(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    service_key: str,
    name: str,
    schedule: domain.Schedule,
    description: str = "",
    uuid: str | None = None,
    managed: bool = False,
) -> models.Heartbeat:
    """`uuid` keeps a ping URL the jobs already use (a heartbeat moved from another
    database); otherwise a new random one is made."""
    service = directory.get_service(session, service_key)
    _check_name(session, name, None)
    _check_schedule(schedule)
    if uuid is not None:
        uuid = _check_uuid(session, uuid, None)
    _integration(session, now, service)
    row = models.Heartbeat(
        uuid=uuid or str(uuids.uuid4()),
        service_id=service.id,
        name=name,
        description=description,
        period_s=_seconds(schedule.period),
        cron=schedule.cron.strip() if schedule.cron is not None else None,
        time_zone=schedule.time_zone,
        grace_s=_seconds(schedule.grace),
        min_run_s=_seconds(schedule.min_run),
        max_run_s=_seconds(schedule.max_run),
        status=domain.Status.NEW.value,
        alerting=False,
        n_pings=0,
        created_at=now,
        managed=managed,
    )
    row.service = service
    session.add(row)
    audit.record(session, actor, now, "create", "heartbeat", name, {"service": service.key})
    session.flush()
    return row


def _check_name(session: Session, name: str, row: models.Heartbeat | None) -> None:
    problem = key_problem(name)
    if problem:
        raise ValidationFailed(problem, field="name")
    other = repo.by_name(session, name)
    if other is not None and other is not row:
        raise Conflict(f"a heartbeat named {name!r} exists already", field="name")


def _check_schedule(schedule: domain.Schedule) -> None:
    wrong = domain.schedule_problem(schedule)
    if wrong is not None:
        raise ValidationFailed(wrong[1], field=wrong[0])


def _check_uuid(session: Session, text: str, row: models.Heartbeat | None) -> str:
    try:
        canonical = str(uuids.UUID(text))
    except ValueError:
        raise ValidationFailed(f"{text!r} is not a UUID", field="uuid") from None
    other = repo.by_uuid(session, canonical)
    if other is not None and other is not row:
        raise Conflict(f"heartbeat {other.name!r} has this uuid already", field="uuid")
    return canonical


def update(
    session: Session,
    actor: Actor,
    now: datetime,
    ref: str,
    *,
    name: str | None = None,
    description: str | None = None,
    schedule: domain.Schedule | None = None,
    service_key: str | None = None,
    uuid: str | None = None,
) -> models.Heartbeat:
    """Change what is given; the rest stays. The pings and the status stay too: a new schedule
    only moves when the heartbeat is next due, so the engine judges it by the new rule from its
    next check on (and `late` reads off the new rule at once)."""
    row = get(session, ref)
    # Locked as a ping batch locks it: the new due time is worked out from the state a ping
    # committed, not from one read before it.
    repo.lock(session, row)
    changes: dict[str, object] = {}
    if name is not None and name != row.name:
        _check_name(session, name, row)
        changes["name"] = {"from": row.name, "to": name}
        row.name = name
    if description is not None and description != row.description:
        changes["description"] = {"from": row.description, "to": description}
        row.description = description
    if schedule is not None:
        _check_schedule(schedule)
        changes.update(_set_schedule(row, schedule))
    if service_key is not None and service_key != row.service.key:
        service = directory.get_service(session, service_key)
        if row.alerting:
            # Its alert belongs to the old service's integration: the next good ping would resolve
            # it through the new one and miss it. It is resolved now and raised anew if need be.
            _signal(session, now, row, domain.Effect.RESOLVE, "")
            row.alerting = False
        _integration(session, now, service)
        changes["service"] = {"from": row.service.key, "to": service.key}
        row.service_id = service.id
        row.service = service
    if uuid is not None and uuid != row.uuid:
        canonical = _check_uuid(session, uuid, row)
        if canonical != row.uuid:
            if row.alerting:
                _signal(session, now, row, domain.Effect.RESOLVE, "")  # keyed by the old uuid
                row.alerting = False
            changes["uuid"] = {"from": row.uuid, "to": canonical}
            row.uuid = canonical
    if changes:
        audit.record(session, actor, now, "update", "heartbeat", row.name, {"changes": changes})
    session.flush()
    return row


def _set_schedule(row: models.Heartbeat, schedule: domain.Schedule) -> dict[str, object]:
    values = {
        "period_s": _seconds(schedule.period),
        "cron": schedule.cron.strip() if schedule.cron is not None else None,
        "time_zone": schedule.time_zone,
        "grace_s": _seconds(schedule.grace),
        "min_run_s": _seconds(schedule.min_run),
        "max_run_s": _seconds(schedule.max_run),
    }
    changes: dict[str, object] = {}
    for column, value in values.items():
        if getattr(row, column) != value:
            changes[column] = {"from": getattr(row, column), "to": value}
            setattr(row, column, value)
    if changes:
        row.next_due_at = domain.next_due(schedule, state_of(row))
    return changes


def get(session: Session, ref: str) -> models.Heartbeat:
    """By name or by the uuid of its ping URL."""
    row = repo.by_name(session, ref) or repo.by_uuid(session, ref)
    if row is None:
        raise NotFound(f"no heartbeat {ref!r}", field="heartbeat")
    return row


def list_heartbeats(session: Session, service_key: str | None = None) -> list[models.Heartbeat]:
    service_id = directory.get_service(session, service_key).id if service_key else None
    return list(repo.list_heartbeats(session, service_id))


def recent_pings(session: Session, row: models.Heartbeat, limit: int = 20) -> list[models.HeartbeatPing]:
    return list(repo.recent_pings(session, row.id, limit))


def _store(row: models.Heartbeat, schedule: domain.Schedule, state: domain.State) -> None:
    row.status = state.status.value
    row.last_ping_at = state.last_ping_at
    row.started_at = state.started_at
    if state.started_at is None:
        row.start_rid = None
    row.alerting = state.alerting
    row.next_due_at = domain.next_due(schedule, state)


def pause(session: Session, actor: Actor, now: datetime, ref: str) -> models.Heartbeat:
    """Stops expecting pings: a paused heartbeat records its pings and raises nothing until resumed."""
    row = get(session, ref)
    _store(row, schedule_of(row), domain.pause(state_of(row)))
    audit.record(session, actor, now, "pause", "heartbeat", row.name, {})
    session.flush()
    return row


def resume(session: Session, actor: Actor, now: datetime, ref: str) -> models.Heartbeat:
    row = get(session, ref)
    if row.status != domain.Status.PAUSED.value:
        raise Conflict(f"heartbeat {row.name!r} is not paused", field="heartbeat")
    _store(row, schedule_of(row), domain.resume(state_of(row)))
    audit.record(session, actor, now, "resume", "heartbeat", row.name, {})
    session.flush()
    return row


def delete(session: Session, actor: Actor, now: datetime, ref: str) -> None:
    """Its firing alert, if any, is resolved: nothing would ever resolve it otherwise."""
    row = get(session, ref)
    if row.alerting:
        _signal(session, now, row, domain.Effect.RESOLVE, "")
    audit.record(session, actor, now, "delete", "heartbeat", row.name, {"uuid": row.uuid})
    repo.delete_heartbeat(session, row)
    session.flush()


def record_ping(session: Session, now: datetime, heartbeat_uuid: str, ping: Ping) -> PingResult | None:
    """Record a ping and act on it; None for an unknown uuid. The caller commits."""
    return record_pings(session, now, [(heartbeat_uuid, ping)])[0]


def record_pings(session: Session, now: datetime, pings: Sequence[tuple[str, Ping]]) -> list[PingResult | None]:
    """Record pings (heartbeat uuid, ping) in their order and act on each; None for an unknown
    uuid. The caller commits: the API's ping writer commits many requests' pings at once.

    This is the hot path of a fleet of cron jobs, so it works on plain rows, not ORM objects:
    the heartbeats are read (and locked, on PostgreSQL, in the order of their ids, so two
    processes' batches never wait for each other in a circle) with one SELECT, and written
    back with one UPDATE and one INSERT of pings, each an executemany."""
    session.flush()  # anything pending on these heartbeats lands before they are read
    found = {row.uuid: _Hot.of(row) for row in repo.ping_states(session, {uuid for uuid, _ in pings})}
    results: list[PingResult | None] = []
    pending: list[dict[str, Any]] = []
    prune: dict[int, int] = {}
    for heartbeat_uuid, ping in pings:
        hot = found.get(heartbeat_uuid)
        if hot is None:
            results.append(None)
            continue
        if ping.rid is not None and pending:
            # A finish may pair with a start of this batch, which the query for it must see.
            repo.add_pings(session, pending)
            pending = []
        result, columns = _receive(session, now, hot, ping)
        pending.append(columns)
        if hot.n_pings % PRUNE_EVERY == 0:
            prune[hot.id] = hot.n_pings - KEEP_PINGS + 1
        results.append(result)
    repo.add_pings(session, pending)
    repo.store_ping_states(session, [hot.columns() for hot in found.values() if hot.changed])
    repo.prune_many(session, prune)
    # Heartbeats this session holds as objects were written past the unit of work.
    repo.expire_loaded(session, {hot.id for hot in found.values() if hot.changed})
    return results


@dataclass
class _Hot:
    """A heartbeat as a batch of pings reads and writes it."""

    id: int
    uuid: str
    name: str
    service_id: int
    schedule: domain.Schedule
    state: domain.State
    start_rid: str | None
    last_duration_ms: int | None
    n_pings: int
    next_due_at: datetime | None
    changed: bool = False
    loaded_service: models.Service | None = None

    @classmethod
    def of(cls, row: Any) -> _Hot:
        schedule = domain.Schedule(
            grace=timedelta(seconds=row.grace_s),
            period=timedelta(seconds=row.period_s) if row.period_s is not None else None,
            cron=row.cron,
            time_zone=row.time_zone,
            min_run=timedelta(seconds=row.min_run_s) if row.min_run_s is not None else None,
            max_run=timedelta(seconds=row.max_run_s) if row.max_run_s is not None else None,
        )
        state = domain.State(domain.Status(row.status), row.last_ping_at, row.started_at, row.alerting)
        return cls(
            row.id, row.uuid, row.name, row.service_id, schedule, state, row.start_rid, row.last_duration_ms,
            row.n_pings, row.next_due_at,
        )  # fmt: skip

    @property
    def last_ping_at(self) -> datetime | None:
        return self.state.last_ping_at

    @property
    def started_at(self) -> datetime | None:
        return self.state.started_at

    def service_of(self, session: Session) -> models.Service:
        if self.loaded_service is None:
            self.loaded_service = session.get_one(models.Service, self.service_id)
        return self.loaded_service

    def columns(self) -> dict[str, Any]:
        return {
            "hid": self.id,
            "status": self.state.status.value,
            "last_ping_at": self.state.last_ping_at,
            "started_at": self.state.started_at,
            "start_rid": self.start_rid,
            "alerting": self.state.alerting,
            "next_due_at": self.next_due_at,
            "n_pings": self.n_pings,
            "last_duration_ms": self.last_duration_ms,
        }


def _receive(session: Session, now: datetime, hot: _Hot, ping: Ping) -> tuple[PingResult, dict[str, Any]]:
    """Act on one ping of a locked heartbeat; its ping row's columns, for the caller to insert."""
    duration, ends_run = _run_time(session, hot, ping, now)
    transition = domain.receive(
        hot.schedule, hot.state, ping.kind, now, exit_status=ping.exit_status, duration=duration, ends_run=ends_run
    )
    hot.n_pings += 1
    hot.changed = True
    body = ping.body[: domain.BODY_LIMIT]
    columns = {
        "heartbeat_id": hot.id,
        "n": hot.n_pings,
        "kind": ping.kind.value,
        "exit_status": ping.exit_status,
        "rid": ping.rid,
        "at": now,
        "method": ping.method[:10],
        "remote_addr": ping.remote_addr[:64],
        "user_agent": ping.user_agent[:300],
        "body": body.decode("utf-8", errors="replace"),
        "body_truncated": len(ping.body) > domain.BODY_LIMIT,
        "duration_ms": _ms(duration),
    }
    state = transition.state
    # As `_store` does for a row.
    if state.started_at is None:
        hot.start_rid = None
    if ping.kind == domain.PingKind.START and state.started_at == now:
        hot.start_rid = ping.rid
    hot.state = state
    hot.next_due_at = domain.next_due(hot.schedule, state)
    if duration is not None:
        hot.last_duration_ms = _ms(duration)
    opened = False
    if transition.effect != domain.Effect.NONE:
        summary = f"Heartbeat {hot.name} failed: {transition.reason}"
        opened = _raise_or_resolve(
            session, now, hot.service_of(session), hot.uuid, hot.name, hot.last_ping_at, transition.effect, summary
        )
    return PingResult(state.status, transition.effect, opened), columns


def _run_time(session: Session, row: _Hot, ping: Ping, now: datetime) -> tuple[timedelta | None, bool]:
    """How long the run this finish ends took (None when it pairs with no start), and
    whether it ends the run in progress. A finish pairs with the start of the same `rid`
    (both without one count as the same); one with another run's id leaves that run going."""
    if ping.kind not in (domain.PingKind.SUCCESS, domain.PingKind.FAIL):
        return None, False
    if row.started_at is not None and row.start_rid == ping.rid:
        return now - row.started_at, True
    if ping.rid is None:
        return None, True
    start = repo.last_start(session, row.id, ping.rid)
    return (now - start.at if start is not None else None), False


def _ms(span: timedelta | None) -> int | None:
    return None if span is None else int(span.total_seconds() * 1000)


def raise_due(session: Session, now: datetime, limit: int = 100) -> int:
    """Claim the heartbeats that went down and raise an alert for each this process wins."""
    raised = 0
    for row in repo.due(session, now, limit):
        assert row.next_due_at is not None
        schedule = schedule_of(row)
        transition = domain.overdue(schedule, state_of(row), now)
        if transition is None:  # due by an older rule: its due time, worked out again
            row.next_due_at = domain.next_due(schedule, state_of(row))
            continue
        if not repo.claim_down(session, row.id, row.next_due_at):
            continue  # another process, or a ping, got there first
        session.expire(row)
        _signal(session, now, row, domain.Effect.RAISE, f"Heartbeat {row.name} is down: {transition.reason}")
        raised += 1
    session.flush()
    return raised


def _integration(session: Session, now: datetime, service: models.Service) -> integrations.IntegrationRef:
    return integrations.internal(session, now, service, integrations.Kind.HEARTBEAT)


def _signal(session: Session, now: datetime, row: models.Heartbeat, effect: domain.Effect, summary: str) -> bool:
    return _raise_or_resolve(session, now, row.service, row.uuid, row.name, row.last_ping_at, effect, summary)


def _raise_or_resolve(
    session: Session,
    now: datetime,
    service: models.Service,
    heartbeat_uuid: str,
    name: str,
    last_ping_at: datetime | None,
    effect: domain.Effect,
    summary: str,
) -> bool:
    """Trigger or resolve the heartbeat's alert; whether that declared an incident."""
    integration = _integration(session, now, service)
    key = f"heartbeat:{heartbeat_uuid}"
    if effect == domain.Effect.RESOLVE:
        signal = Signal(action=Action.RESOLVE, dedup_key=key, source="heartbeat")
    else:
        signal = Signal(
            action=Action.TRIGGER,
            dedup_key=key,
            summary=summary,
            source="heartbeat",
            severity="error",
            labels={"heartbeat": name},
            details={
                "heartbeat": name,
                "uuid": heartbeat_uuid,
                "last_ping_at": last_ping_at.isoformat() if last_ping_at else None,
            },
        )
    outcomes = alerts.ingest(session, now, integration, [signal])
    return any(outcome.opened for outcome in outcomes)
