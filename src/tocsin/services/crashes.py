"""Crash reports: events counted into crash groups, sessions into release health, and the
group's alert through the same ingestion as every other signal.

A project is an integration of kind `sentry`. A group's alert is
`crash:<group id>` on that integration, so it is routed, grouped, held by
maintenance windows and paged like any alert: it is triggered when the group is
new, when it regresses (a resolved group seen in a later release) and when it
spikes; resolving the group resolves it. Each of those is also a development
event (`crash.new`, `crash.regression`, `crash.spike`, `crash.resolved`) for the
channels that route `crash.*`.

Everything a request carries is one transaction; an event id the project has
already sent changes nothing, so an SDK's retry is not counted twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import null
from sqlalchemy.orm import Session

from tocsin.domain import crashes as domain
from tocsin.domain.alerts import Action, Signal
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.integrations.sentry import SessionUpdate
from tocsin.services import alerts, audit, directory
from tocsin.services.actor import Actor
from tocsin.services.integrations import IntegrationRef, Kind
from tocsin.storage import models
from tocsin.storage.repositories import crashes as repo

SOURCE = "sentry"
# Sample events kept with their stack trace: the group's first and the newest KEEP_SAMPLES.
KEEP_SAMPLES = 5
# Events (without their payload) are kept this long: per-release counts and idempotency.
KEEP_EVENTS = timedelta(days=30)
PRUNE_EVERY = 500
MAX_LISTED = 50  # releases, platforms and environments listed on a group
_LEVEL_RANK = {level: rank for rank, level in enumerate(domain.Level)}  # fatal first
_TRIGGER_WORDS = {
    domain.Trigger.NEW: "New crash",
    domain.Trigger.REGRESSION: "Crash regressed",
    domain.Trigger.SPIKE: "Crash spike",
}


@dataclass
class Received:
    stored: list[str] = field(default_factory=list)  # event ids counted now
    duplicates: list[str] = field(default_factory=list)  # event ids seen before
    sessions: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    triggers: list[tuple[int, domain.Trigger]] = field(default_factory=list)  # (group id, why)
    alerts: list[alerts.Outcome] = field(default_factory=list)

    @property
    def opened(self) -> bool:
        return any(outcome.opened for outcome in self.alerts)


@dataclass(frozen=True)
class Report:
    """What one request carried for one project."""

    integration: IntegrationRef
    crashes: Sequence[domain.Crash] = ()
    sessions: Sequence[SessionUpdate] = ()
    skipped: Mapping[str, int] = field(default_factory=dict)


@dataclass
class _Locked:
    """A group locked by this transaction, and what its count was when it was first locked."""

    row: models.CrashGroup
    count_before: int


def receive(
    session: Session,
    now: datetime,
    integration: IntegrationRef,
    crashes: Sequence[domain.Crash],
    sessions: Sequence[SessionUpdate] = (),
    skipped: Mapping[str, int] | None = None,
) -> Received:
    """Count what one request carried; flushes, the caller commits."""
    return receive_batch(session, now, [Report(integration, crashes, sessions, dict(skipped or {}))])[0]


def receive_batch(session: Session, now: datetime, reports: Sequence[Report]) -> list[Received]:
    """Count many requests' reports in one transaction (the crash writer's group commit);
    flushes, the caller commits. Each group is locked once, on its first event, and groups
    are locked in one order (project, fingerprint) whatever the requests' order: two
    transactions that meet the same two groups cannot deadlock."""
    received = [Received(skipped=dict(report.skipped)) for report in reports]
    keyed = sorted(
        (
            (report.integration.id, domain.fingerprint(crash), index, order, crash)
            for index, report in enumerate(reports)
            for order, crash in enumerate(report.crashes)
        ),
        key=lambda entry: entry[:4],
    )
    locked = _lock(session, now, reports, keyed)
    claimed, sampled = _claim(session, now, keyed, locked)
    seen: set[tuple[int, str]] = set()
    for integration_id, fingerprint, index, _order, crash in keyed:
        event_key = (integration_id, crash.event_id)
        event_id = claimed.get(event_key) if event_key not in seen else None
        seen.add(event_key)
        if event_id is None:  # stored before, or twice in this batch
            received[index].duplicates.append(crash.event_id)
            continue
        integration = reports[index].integration
        _count(session, now, integration, locked[(integration_id, fingerprint)], crash, event_id, received[index])
    emptied: list[int] = []
    for group_key, group in locked.items():
        # The events whose payload the group keeps: its first and its newest KEEP_SAMPLES. Once
        # per group and transaction, not per event, and the rest emptied in one statement.
        kept = [*(group.row.samples or []), *sampled.get(group_key, [])]
        newest = kept[-KEEP_SAMPLES:]
        first = [group.row.first_event_id] if group.row.first_event_id is not None else []
        group.row.samples = list(dict.fromkeys([*first, *newest]))
        emptied += [event for event in kept if event not in group.row.samples]
        if group.row.count // PRUNE_EVERY != group.count_before // PRUNE_EVERY:
            repo.prune_events(session, group.row, now - KEEP_EVENTS)
    repo.empty_payloads(session, emptied)
    rolled: dict[tuple[int, str, str, datetime], domain.SessionCounts] = defaultdict(domain.SessionCounts)
    skipped: Counter[tuple[int, str]] = Counter()
    for report, result in zip(reports, received, strict=True):
        for update in report.sessions:
            hour = update.started.replace(minute=0, second=0, microsecond=0)
            rolled[(report.integration.id, update.release, update.environment, hour)] += update.counts
        result.sessions = len(report.sessions)
        for item_type, count in report.skipped.items():
            skipped[(report.integration.id, item_type)] += count
    _sessions(session, rolled)
    for (integration_id, item_type), count in sorted(skipped.items()):
        repo.add_skipped(session, integration_id, item_type, count, now)
    session.flush()
    return received


def _lock(
    session: Session, now: datetime, reports: Sequence[Report], keyed: Sequence[tuple[int, str, int, int, domain.Crash]]
) -> dict[tuple[int, str], _Locked]:
    """The batch's groups, made where new, locked: one query per project, not one per group."""
    wanted: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    services: dict[int, int] = {}
    for integration_id, fingerprint, index, _order, crash in keyed:
        services[integration_id] = reports[index].integration.service_id
        if fingerprint not in wanted[integration_id]:
            wanted[integration_id][fingerprint] = _defaults(now, crash)
    locked: dict[tuple[int, str], _Locked] = {}
    for integration_id in sorted(wanted):
        rows = repo.locked_groups(session, integration_id, services[integration_id], wanted[integration_id])
        for fingerprint, row in rows.items():
            locked[(integration_id, fingerprint)] = _Locked(row, row.count)
    return locked


def _defaults(now: datetime, crash: domain.Crash) -> dict[str, Any]:
    """A new group's row, from its first event."""
    top = crash.top
    return {
        "title": domain.title_of(crash),
        "culprit": domain.culprit_of(crash),
        "type": top.type if top is not None else "",
        "level": crash.level.value,
        "status": domain.GroupStatus.OPEN.value,
        "count": 0,
        "first_seen": now,
        "last_seen": now,
        "first_release": crash.release,
        "last_release": crash.release,
        "releases": [],
        "platforms": [],
        "environments": [],
        "samples": [],
        "alerting": False,
    }


def _claim(
    session: Session,
    now: datetime,
    keyed: Sequence[tuple[int, str, int, int, domain.Crash]],
    locked: Mapping[tuple[int, str], _Locked],
) -> tuple[dict[tuple[int, str], int], dict[tuple[int, str], list[int]]]:
    """Insert the batch's events in a few statements; the ids of those that are new, by
    (project, event id), and per group the new ones that carry their payload. Only the
    events a group may keep as samples carry it (its first, and the newest few of the
    batch): the rest would be emptied at once."""
    sampled: set[int] = set()
    by_group: dict[tuple[int, str], list[int]] = defaultdict(list)
    first_seen: set[tuple[int, str]] = set()
    for position, (integration_id, fingerprint, _index, _order, crash) in enumerate(keyed):
        if (integration_id, crash.event_id) not in first_seen:  # a copy in the same batch is no sample
            first_seen.add((integration_id, crash.event_id))
            by_group[(integration_id, fingerprint)].append(position)
    for group_key, positions in by_group.items():
        sampled.update(positions[-KEEP_SAMPLES:])
        if locked[group_key].row.first_event_id is None:
            sampled.add(positions[0])
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    carrying: list[tuple[tuple[int, str], tuple[int, str]]] = []  # (group, event) of rows with a payload
    for position, (integration_id, fingerprint, _index, _order, crash) in enumerate(keyed):
        event_key = (integration_id, crash.event_id)
        if event_key in rows:
            continue  # the same event twice in the batch: its first is the one that counts
        payload: Any = null()  # SQL NULL: a JSON column writes None as the JSON text 'null'
        if position in sampled:
            payload = {**crash.payload, "tags": crash.tags, "server_name": crash.server_name}
            payload["transaction"] = crash.transaction
            carrying.append(((integration_id, fingerprint), event_key))
        rows[event_key] = {
            "integration_id": integration_id,
            "group_id": locked[(integration_id, fingerprint)].row.id,
            "event_id": crash.event_id,
            "received_at": now,
            "occurred_at": crash.occurred_at,
            "level": crash.level.value,
            "release": crash.release,
            "environment": crash.environment,
            "platform": crash.platform,
            "payload": payload,
        }
    claimed = repo.claim_events(session, list(rows.values()))
    with_payload: dict[tuple[int, str], list[int]] = defaultdict(list)
    for group_key, event_key in carrying:
        if event_key in claimed:
            with_payload[group_key].append(claimed[event_key])
    return claimed, with_payload


def _count(
    session: Session,
    now: datetime,
    integration: IntegrationRef,
    locked: _Locked,
    crash: domain.Crash,
    event_id: int,
    received: Received,
) -> None:
    group = locked.row
    received.stored.append(crash.event_id)
    group.count += 1
    group.last_seen = now
    if crash.release:
        group.last_release = crash.release
        group.first_release = group.first_release or crash.release
    group.releases = _listed(group.releases, crash.release)
    group.platforms = _listed(group.platforms, crash.platform)
    group.environments = _listed(group.environments, crash.environment)
    if _LEVEL_RANK[crash.level] < _LEVEL_RANK.get(domain.Level(group.level), len(_LEVEL_RANK)):
        group.level = crash.level.value  # a warning that turned fatal is a fatal group
    trigger: domain.Trigger | None = None
    if group.first_event_id is None:
        group.first_event_id = event_id
        trigger = domain.Trigger.NEW
    elif domain.is_regression(domain.GroupStatus(group.status), group.resolved_in_release, crash.release):
        group.status = domain.GroupStatus.OPEN.value
        group.regressed_at = now
        group.resolved_at = None
        group.resolved_in_release = None
        trigger = domain.Trigger.REGRESSION
    elif group.status == domain.GroupStatus.OPEN.value and _spiking(
        session, now, group, domain.SpikeRule.of(integration.settings)
    ):
        group.spike_at = now
        trigger = domain.Trigger.SPIKE
    if trigger is not None:
        _raise(session, now, integration, group, crash, trigger, received)


def _spiking(session: Session, now: datetime, group: models.CrashGroup, rule: domain.SpikeRule) -> bool:
    if group.count < rule.events:
        return False
    if group.spike_at is not None and now - group.spike_at < rule.window:
        return False  # raised this window already: no count needed
    # Counted every tenth of the threshold, not per event: a hot group's window holds thousands.
    if group.count % max(1, rule.events // 10) != 0:
        return False
    return domain.is_spike(rule, repo.events_since(session, group.id, now - rule.window), group.spike_at, now)


def _listed(values: list[str] | None, value: str) -> list[str]:
    values = list(values or [])
    if value and value not in values and len(values) < MAX_LISTED:
        values.append(value)
    return values


def dedup_key(group_id: int) -> str:
    return f"crash:{group_id}"


def _raise(
    session: Session,
    now: datetime,
    integration: IntegrationRef,
    group: models.CrashGroup,
    crash: domain.Crash,
    trigger: domain.Trigger,
    received: Received,
) -> None:
    received.triggers.append((group.id, trigger))
    summary = f"{_TRIGGER_WORDS[trigger]} in {integration.service_key}: {group.title}"
    if trigger == domain.Trigger.REGRESSION and crash.release:
        summary += f" (again in {crash.release})"
    labels = {
        "level": crash.level.value,
        "release": crash.release,
        "platform": crash.platform,
        "environment": crash.environment,
        "crash_group": str(group.id),
        "crash_trigger": trigger.value,
    }
    signal = Signal(
        action=Action.TRIGGER,
        dedup_key=dedup_key(group.id),
        summary=summary[:1000],
        source=SOURCE,
        severity=domain.alert_severity(crash.level),
        labels={name: value for name, value in labels.items() if value},
        details={
            "crash_group": group.id,
            "culprit": group.culprit,
            "count": group.count,
            "first_seen": group.first_seen.isoformat(),
            "release": crash.release,
            "event_id": crash.event_id,
        },
        occurred_at=crash.occurred_at,
    )
    received.alerts += alerts.ingest(session, now, integration, [signal])
    group.alerting = True
    _dev_event(session, now, integration, f"crash.{trigger.value}", summary, group)


def _dev_event(
    session: Session, now: datetime, integration: IntegrationRef, event: str, summary: str, group: models.CrashGroup
) -> None:
    repo.add_dev_event(
        session,
        integration_id=integration.id,
        service_id=integration.service_id,
        type=event,
        summary=summary[:2000],
        repository="",
        actor="",
        url="",
        occurred_at=now,
        received_at=now,
        details={"crash_group": group.id, "level": group.level, "release": group.last_release},
    )


def _sessions(session: Session, rolled: Mapping[tuple[int, str, str, datetime], domain.SessionCounts]) -> None:
    for (integration_id, release, environment, hour), counts in sorted(rolled.items()):
        if counts == domain.SessionCounts():
            continue  # updates mid-session: nothing to add
        repo.add_sessions(
            session,
            integration_id,
            release,
            environment,
            hour,
            {"total": counts.total, "errored": counts.errored, "crashed": counts.crashed, "abnormal": counts.abnormal},
        )


# ---- managing groups ---------------------------------------------------------------------------


def list_groups(
    session: Session,
    *,
    service_key: str | None = None,
    status: str | None = None,
    level: str | None = None,
    project: int | None = None,
    limit: int = 100,
) -> list[models.CrashGroup]:
    if status is not None and status not in {s.value for s in domain.GroupStatus}:
        raise ValidationFailed("status must be open, resolved or ignored", field="status")
    if level is not None and level not in {lv.value for lv in domain.Level}:
        raise ValidationFailed("level must be fatal, error, warning, info or debug", field="level")
    service_id = directory.get_service(session, service_key).id if service_key else None
    return list(
        repo.list_groups(
            session, service_id=service_id, integration_id=project, status=status, level=level, limit=limit
        )
    )


def get(session: Session, group_id: int, lock: bool = False) -> models.CrashGroup:
    row = repo.get_group(session, group_id, lock=lock)
    if row is None:
        raise NotFound(f"no crash group {group_id}", field="crash_group")
    return row


@dataclass(frozen=True)
class GroupDetail:
    group: models.CrashGroup
    service: str
    samples: list[models.CrashEvent]
    first_event: models.CrashEvent | None
    releases: list[tuple[str, int, datetime]]


def detail(session: Session, group_id: int, samples: int = KEEP_SAMPLES) -> GroupDetail:
    group = get(session, group_id)
    service = session.get(models.Service, group.service_id)
    first = repo.event_by_id(session, group.first_event_id) if group.first_event_id is not None else None
    return GroupDetail(
        group=group,
        service=service.key if service is not None else "",
        samples=list(repo.sample_events(session, group.id, samples)),
        first_event=first,
        releases=repo.counts_by_release(session, group.id),
    )


def _ref(session: Session, now: datetime, group: models.CrashGroup) -> IntegrationRef:
    row = session.get(models.Integration, group.integration_id)
    if row is None:  # the row cascades with its integration: never
        raise NotFound(f"crash group {group.id} has no project", field="crash_group")
    return IntegrationRef.of(row)


def _clear_alert(session: Session, now: datetime, group: models.CrashGroup, event: str) -> bool:
    """Resolve the group's alert if it fires; whether there was one."""
    if not group.alerting:
        return False
    integration = _ref(session, now, group)
    alerts.ingest(
        session, now, integration, [Signal(action=Action.RESOLVE, dedup_key=dedup_key(group.id), source=SOURCE)]
    )
    group.alerting = False
    _dev_event(session, now, integration, event, f"Crash {event.split('.')[1]}: {group.title}", group)
    return True


def resolve(
    session: Session, actor: Actor, now: datetime, group_id: int, in_release: str | None = None
) -> models.CrashGroup:
    """Resolved in a release (the group's newest by default): the same crash from that release
    or an older one is counted quietly; from a later one it is a regression."""
    group = get(session, group_id, lock=True)
    if group.status == domain.GroupStatus.RESOLVED.value:
        raise Conflict(f"crash group {group.id} is resolved already", field="crash_group")
    group.status = domain.GroupStatus.RESOLVED.value
    group.resolved_at = now
    group.resolved_in_release = (in_release or group.last_release or "")[:200] or None
    _clear_alert(session, now, group, "crash.resolved")
    audit.record(session, actor, now, "resolve", "crash_group", str(group.id), {"release": group.resolved_in_release})
    session.flush()
    return group


def ignore(session: Session, actor: Actor, now: datetime, group_id: int) -> models.CrashGroup:
    """Counted, never alerted on again until reopened; its firing alert is resolved."""
    group = get(session, group_id, lock=True)
    group.status = domain.GroupStatus.IGNORED.value
    group.resolved_at = None
    group.resolved_in_release = None
    _clear_alert(session, now, group, "crash.ignored")
    audit.record(session, actor, now, "ignore", "crash_group", str(group.id), {})
    session.flush()
    return group


def reopen(session: Session, actor: Actor, now: datetime, group_id: int) -> models.CrashGroup:
    group = get(session, group_id, lock=True)
    if group.status == domain.GroupStatus.OPEN.value:
        raise Conflict(f"crash group {group.id} is open already", field="crash_group")
    group.status = domain.GroupStatus.OPEN.value
    group.resolved_at = None
    group.resolved_in_release = None
    audit.record(session, actor, now, "reopen", "crash_group", str(group.id), {})
    session.flush()
    return group


# ---- release health --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseHealth:
    project: int
    service: str
    release: str
    environment: str
    counts: domain.SessionCounts
    last_seen: datetime
    crash_groups: int


def releases(
    session: Session,
    now: datetime,
    *,
    service_key: str | None = None,
    environment: str | None = None,
    days: int = 30,
) -> list[ReleaseHealth]:
    """Crash-free sessions per release (and environment) over the last `days`."""
    if not 1 <= days <= 366:
        raise ValidationFailed("days must be from 1 to 366", field="days")
    service_id = directory.get_service(session, service_key).id if service_key else None
    projects = repo.sentry_integrations(session, service_id)
    out: list[ReleaseHealth] = []
    for project in projects:
        groups: Counter[str] = Counter()
        for group in repo.list_groups(session, integration_id=project.id, limit=10_000):
            for release in group.releases or []:
                groups[release] += 1
        for release, env, total, errored, crashed, abnormal, last in repo.session_totals(
            session, [project.id], now - timedelta(days=days), environment
        ):
            out.append(
                ReleaseHealth(
                    project=project.id,
                    service=project.service.key,
                    release=release,
                    environment=env,
                    counts=domain.SessionCounts(total, errored, crashed, abnormal),
                    last_seen=last,
                    crash_groups=groups.get(release, 0),
                )
            )
    return out


def project_of(session: Session, project_id: int) -> models.Integration:
    row = session.get(models.Integration, project_id)
    if row is None or row.kind != Kind.SENTRY.value:
        raise NotFound(f"no Sentry project {project_id}", field="project")
    return row


def skipped_items(session: Session, project_id: int) -> dict[str, int]:
    return repo.skipped_items(session, project_id)


def group_json(group: models.CrashGroup, service: str | None = None) -> dict[str, Any]:
    return {
        "id": group.id,
        "project": group.integration_id,
        "service": service,
        "title": group.title,
        "culprit": group.culprit,
        "type": group.type,
        "level": group.level,
        "status": group.status,
        "count": group.count,
        "first_seen": group.first_seen.isoformat(),
        "last_seen": group.last_seen.isoformat(),
        "first_release": group.first_release,
        "last_release": group.last_release,
        "releases": list(group.releases or []),
        "platforms": list(group.platforms or []),
        "environments": list(group.environments or []),
        "resolved_at": group.resolved_at.isoformat() if group.resolved_at else None,
        "resolved_in_release": group.resolved_in_release,
        "regressed_at": group.regressed_at.isoformat() if group.regressed_at else None,
        "alerting": group.alerting,
    }
