"""Ingesting signals: deduplicate, route, hold for maintenance, group into incidents.

`ingest_batch` handles the signals of many requests inside the caller's
transaction (the ingest writer commits them together). It is written for
storms: the batch's context (scheme, rules, windows) is read once, firing
alerts are looked up in one query, new alerts are inserted in one flush, and
the incident an alert joins is looked up once per service and group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from tocsin.domain import severity as severity_domain
from tocsin.domain.alerts import (
    DEFAULT_SEVERITY_RANK,
    Action,
    AlertStatus,
    AutoResolve,
    Signal,
    Urgency,
    group_key,
    route,
)
from tocsin.domain.incidents import OPEN_STATUSES, IncidentStatus, can_transition
from tocsin.domain.timeline import EntryKind
from tocsin.services import incidents, ingest_config, timeline
from tocsin.services.actor import ENGINE, Actor
from tocsin.services.ingest_config import IngestConfig, ServiceRef
from tocsin.services.integrations import IntegrationRef, Kind
from tocsin.storage import models
from tocsin.storage.repositories import alerts as repo

# Raw payloads are kept for people to read, not as an archive.
RAW_LIMIT = 64 * 1024
_OPEN = frozenset(s.value for s in OPEN_STATUSES)


class Result(StrEnum):
    CREATED = "created"  # a new alert (joined or opened an incident unless held)
    REPEATED = "repeated"  # the same firing alert again: count and last-seen
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    IGNORED = "ignored"  # ack/resolve for no firing alert (a replay, or unknown)
    DROPPED = "dropped"  # a routing rule said drop: nothing stored


@dataclass(frozen=True)
class Outcome:
    dedup_key: str
    result: Result
    alert_id: int | None = None
    incident: str | None = None  # human id
    held_by: str | None = None  # maintenance window, or "low urgency"
    opened: bool = False  # this alert declared its incident (the engine is woken to page for it)


@dataclass
class _Firing:
    """A firing alert as a batch sees it: read from the database, or new in this
    batch and not yet inserted (`row` holds its columns until then)."""

    integration_id: int
    dedup_key: str
    id: int | None
    incident_id: int | None
    incident_human_id: str | None
    summary: str
    labels: dict[str, str]
    suppressed_by: str | None
    severity: str | None = None
    opened: bool = False  # declared its incident
    row: dict[str, Any] | None = None
    # Repeats seen in this batch and not yet written, with changed fields if any.
    repeats: int = 0
    new_summary: str | None = None
    new_labels: dict[str, str] | None = None


@dataclass
class _Context:
    """One batch: its instant, the configuration it reads, and what it has seen so far."""

    now: datetime
    config: IngestConfig
    # (integration id, dedup key) → the firing alert, prefetched or created in this batch
    firing: dict[tuple[int, str], _Firing]
    # (service id, group key or "") → the incident alerts of this batch join
    joined: dict[tuple[int, str], repo.IncidentState] = field(default_factory=dict)
    # The same slots → (incident id, when an alert last joined it), kept by the caller
    # across batches: under a storm every batch joins the incident the last one did.
    hints: dict[tuple[int, str], tuple[int, datetime]] = field(default_factory=dict)
    # Incident id → when this caller last marked it changed (timeline.add_many), kept likewise.
    touched: dict[int, datetime] | None = None
    # New alerts not yet inserted, each with the incident it joins and who attached it.
    new: list[tuple[_Firing, repo.IncidentState | None, Actor]] = field(default_factory=list)
    repeated: dict[int, _Firing] = field(default_factory=dict)  # id(record) → record with unwritten repeats


def ingest(session: Session, now: datetime, integration: IntegrationRef, signals: Sequence[Signal]) -> list[Outcome]:
    return ingest_batch(session, now, [(integration, signals)])[0]


def ingest_batch(
    session: Session,
    now: datetime,
    items: Sequence[tuple[IntegrationRef, Sequence[Signal]]],
    config: IngestConfig | None = None,
    hints: dict[tuple[int, str], tuple[int, datetime]] | None = None,
    touched: dict[int, datetime] | None = None,
) -> list[list[Outcome]]:
    """`config` lets a caller that ingests many batches read the configuration less
    often, `hints` (a dict the caller keeps) lets it skip the search for the
    incident the previous batch joined, and `touched` (another) the marking of an
    incident it marked changed less than a second ago."""
    keys = {(integration.id, signal.dedup_key) for integration, signals in items for signal in signals}
    context = _Context(
        now=now,
        config=config if config is not None and config.covers(now) else ingest_config.load(session, now),
        firing={
            (row.integration_id, row.dedup_key): _Firing(
                integration_id=row.integration_id,
                dedup_key=row.dedup_key,
                id=row.id,
                incident_id=row.incident_id,
                incident_human_id=row.incident_human_id,
                summary=row.summary,
                labels=row.labels,
                suppressed_by=row.suppressed_by,
            )
            for row in repo.firing_alerts(session, keys)
        },
        hints=hints if hints is not None else {},
        touched=touched,
    )
    results: list[list[Outcome | _Pending]] = []
    for integration, signals in items:
        outcomes: list[Outcome | _Pending] = []
        for signal in signals:
            if signal.action == Action.TRIGGER:
                outcomes.append(_trigger(session, context, integration, signal))
            elif signal.action == Action.ACKNOWLEDGE:
                outcomes.append(_acknowledge(session, context, integration, signal))
            else:
                outcomes.append(_resolve(session, context, integration, signal))
        results.append(outcomes)
    _settle(session, context)
    session.flush()
    return [[o.outcome() if isinstance(o, _Pending) else o for o in outcomes] for outcomes in results]


@dataclass
class _Pending:
    """An outcome read once the batch's new alerts are written, when every alert has its id."""

    dedup_key: str
    result: Result
    alert: _Firing

    def outcome(self) -> Outcome:
        opened = self.alert.opened and self.result == Result.CREATED
        return Outcome(
            self.dedup_key, self.result, self.alert.id, self.alert.incident_human_id, self.alert.suppressed_by, opened
        )


def refresh_statistics(session: Session) -> None:
    """The planner's statistics of the tables ingestion fills (PostgreSQL; elsewhere nothing)."""
    repo.refresh_statistics(session)


def _actor(integration: IntegrationRef) -> Actor:
    return Actor.system(f"integration:{integration.name}")


def level_for(scheme: severity_domain.SeverityScheme, chosen: str | None, sender: str, fallback: str | None) -> str:
    """The scheme level an alert gets: a rule's choice, the sender's own level name,
    the rank its word (critical, warning …) usually means, the integration default,
    and last the least severe level."""
    for candidate in (chosen, sender.strip(), fallback):
        if candidate and scheme.level(candidate) is not None:
            return candidate
    rank = DEFAULT_SEVERITY_RANK.get(sender.strip().lower())
    if rank is not None:
        by_rank = sorted(scheme.levels, key=lambda level: level.rank)
        return by_rank[min(rank, len(by_rank) - 1)].name
    return max(scheme.levels, key=lambda level: level.rank).name


def _raw(signal: Signal) -> str:
    return signal.raw[:RAW_LIMIT].decode("utf-8", errors="replace")


def _links(signal: Signal) -> list[dict[str, str]]:
    return [{"href": link.href, "text": link.text} for link in signal.links]


def _trigger(session: Session, context: _Context, integration: IntegrationRef, signal: Signal) -> Outcome | _Pending:
    existing = context.firing.get((integration.id, signal.dedup_key))
    if existing is not None:
        return _repeat(existing, context, signal)
    config = context.config
    routed = route(config.rules.get(integration.service_id, ()), signal.labels, signal.severity)
    if routed.dropped:
        return Outcome(signal.dedup_key, Result.DROPPED)
    # Routed to a service that is gone: the alert stays on its own service.
    service = config.services.get(routed.route_to or "") or ServiceRef(integration.service_id, integration.service_key)
    level = level_for(config.scheme, routed.severity, signal.severity, integration.default_severity)
    window = next((w for w in config.windows if w.covers(service.key, signal.labels, context.now)), None)
    held_by = window.name if window else ("low urgency" if routed.urgency == Urgency.LOW else None)
    grouping = group_key(signal.labels, integration.group_by)
    summary = signal.summary
    incident, opened = (
        (None, False)
        if held_by
        else _join(session, context, integration, service, grouping, summary or signal.dedup_key, level)
    )
    alert = _Firing(
        integration_id=integration.id,
        dedup_key=signal.dedup_key,
        id=None,
        incident_id=incident.id if incident is not None else None,
        incident_human_id=incident.human_id if incident is not None else None,
        summary=summary,
        labels=signal.labels,
        suppressed_by=held_by,
        severity=level,
        opened=opened,
        row={
            "integration_id": integration.id,
            "service_id": service.id,
            "dedup_key": signal.dedup_key,
            "status": AlertStatus.FIRING.value,
            "severity": level,
            "sender_severity": signal.severity[:50],
            "urgency": routed.urgency.value,
            "summary": summary,
            "source": signal.source[:255],
            "labels": signal.labels,
            "details": signal.details,
            "links": _links(signal),
            "raw": _raw(signal),
            "group_key": grouping,
            "count": 1,
            "first_seen": context.now,
            "last_seen": context.now,
            "acknowledged_at": None,
            "resolved_at": None,
            "incident_id": incident.id if incident is not None else None,
            "suppressed_by": held_by,
        },
    )
    # Not written yet: the batch's new alerts are inserted together. On PostgreSQL a
    # second process may insert the same firing alert first; the unique index then
    # fails this batch, and the writer retries each request alone, when the other
    # process's alert is found and this one counts as a repeat.
    context.firing[(integration.id, signal.dedup_key)] = alert
    context.new.append((alert, incident, _actor(integration)))
    return _Pending(signal.dedup_key, Result.CREATED, alert)


def _repeat(alert: _Firing, context: _Context, signal: Signal) -> _Pending:
    summary = signal.summary if signal.summary and signal.summary != alert.summary else None
    labels = signal.labels if signal.labels and signal.labels != alert.labels else None
    if alert.row is not None:  # new in this batch and not yet written: fold the repeat in
        alert.row["count"] += 1
        if summary is not None:
            alert.row["summary"] = summary
        if labels is not None:
            alert.row["labels"] = labels
    else:
        alert.repeats += 1
        alert.new_summary = summary if summary is not None else alert.new_summary
        alert.new_labels = labels if labels is not None else alert.new_labels
        context.repeated[id(alert)] = alert
    alert.summary = summary if summary is not None else alert.summary
    alert.labels = labels if labels is not None else alert.labels
    # Read at the end of the batch: an alert new in this batch gets its id then.
    return _Pending(signal.dedup_key, Result.REPEATED, alert)


def _join(
    session: Session,
    context: _Context,
    integration: IntegrationRef,
    service: ServiceRef,
    grouping: str,
    title: str,
    level: str,
) -> tuple[repo.IncidentState, bool]:
    """The incident a new alert joins: by group key, then by the grouping window, else a
    new one; and whether it was declared for this alert."""
    by_group = (service.id, grouping) if grouping else None
    by_window = (service.id, "") if integration.group_window.total_seconds() > 0 else None
    declared = False
    for slot in (by_group, by_window):
        cached = context.joined.get(slot) if slot is not None else None
        # Earlier in this batch the incident may have been resolved (all its alerts cleared).
        if cached is not None and cached.status in _OPEN:
            incident = cached
            break
    else:
        found = _hinted(session, context, integration, by_group, by_window)
        if found is None:
            found, declared = _find_or_declare(session, context, integration, service, grouping, title, level)
        incident = found
    for slot in (by_group, by_window):
        if slot is not None:
            context.joined[slot] = incident
            context.hints[slot] = (incident.id, context.now)
    return incident, declared


def _hinted(
    session: Session,
    context: _Context,
    integration: IntegrationRef,
    by_group: tuple[int, str] | None,
    by_window: tuple[int, str] | None,
) -> repo.IncidentState | None:
    """The incident an earlier batch joined for the same slot, if it still qualifies:
    open, and for the grouping window, joined within the window. What the search
    in `_find_or_declare` would find, without searching."""
    for slot, window in ((by_group, None), (by_window, integration.group_window)):
        hint = context.hints.get(slot) if slot is not None else None
        if hint is None or (window is not None and not hint[1] <= context.now < hint[1] + window):
            continue
        # Gone when the batch that declared it was rolled back.
        incident = repo.incident_state(session, hint[0])
        if incident is not None and incident.status in _OPEN:
            return incident
    return None


def _find_or_declare(
    session: Session,
    context: _Context,
    integration: IntegrationRef,
    service: ServiceRef,
    grouping: str,
    title: str,
    level: str,
) -> tuple[repo.IncidentState, bool]:
    incident_id = None
    # A drill's alerts come through its own internal integration: they open and join drill
    # incidents only, so a real alert never lands in a practice incident, nor the reverse.
    drill = integration.kind == Kind.DRILL
    if grouping:
        incident_id = repo.open_incident_for_group(session, service.id, grouping, _OPEN, drill=drill)
    if incident_id is None and integration.group_window.total_seconds() > 0:
        since = context.now - integration.group_window
        incident_id = repo.recent_open_incident(session, service.id, since, _OPEN, drill=drill)
    if incident_id is not None:
        found = repo.incident_state(session, incident_id)
        assert found is not None
        return found, False
    # Declaring flushes the incident, so the alerts that join it know its id.
    declared = incidents.declare(
        session,
        _actor(integration),
        context.now,
        title=title[:300],
        severity=level,
        services=[service.key],
        drill=drill,
    )
    return repo.IncidentState(declared.id, declared.human_id, declared.status), True


# Above this many alerts joining one incident in one batch, the timeline gets one
# entry listing them all instead of one entry each: a storm must not bury the
# humans' entries under thousands of lines.
_EACH_LIMIT = 10


def _settle(session: Session, context: _Context) -> None:
    """Write the batch's new alerts and repeats now: at the end of the batch, and
    before an acknowledge or resolve, which may be about one of them."""
    if context.new:
        new, context.new = context.new, []
        rows: list[dict[str, Any]] = []
        for alert, _incident, _actor in new:
            assert alert.row is not None
            rows.append(alert.row)
            alert.row = None
        for (alert, _incident, _actor), ident in zip(new, repo.insert_alerts(session, rows), strict=True):
            alert.id = ident
        _record_attachments(session, context, new)
    if context.repeated:
        repeated, context.repeated = list(context.repeated.values()), {}
        repo.record_repeats(
            session,
            [
                repo.Repeat(a.id, a.repeats, context.now, a.new_summary, a.new_labels)
                for a in repeated
                if a.id is not None
            ],
        )
        for record in repeated:
            record.repeats, record.new_summary, record.new_labels = 0, None, None


def _record_attachments(
    session: Session, context: _Context, new: list[tuple[_Firing, repo.IncidentState | None, Actor]]
) -> None:
    by_incident: dict[int, list[tuple[repo.IncidentState, _Firing, Actor]]] = {}
    for alert, incident, actor in new:
        if incident is not None:
            by_incident.setdefault(incident.id, []).append((incident, alert, actor))
    for attached in by_incident.values():
        incident, first, actor = attached[0]
        if len(attached) <= _EACH_LIMIT:
            timeline.add_many(
                session,
                incident.id,
                actor,
                context.now,
                EntryKind.ALERT,
                [
                    (
                        f"Alert attached: {alert.summary or alert.dedup_key}",
                        {
                            "alert_id": alert.id,
                            "dedup_key": alert.dedup_key,
                            "event": "attached",
                            "severity": alert.severity,
                        },
                    )
                    for _incident, alert, _actor in attached
                ],
                context.touched,
            )
            continue
        listed = [{"alert_id": a.id, "dedup_key": a.dedup_key, "summary": a.summary[:200]} for _, a, _ in attached]
        timeline.add_many(
            session,
            incident.id,
            actor,
            context.now,
            EntryKind.ALERT,
            [
                (
                    f"{len(attached)} alerts attached, first: {first.summary or first.dedup_key}",
                    {"event": "attached", "alerts": listed},
                )
            ],
            context.touched,
        )
    for attached in by_incident.values():
        incident, first, _actor = attached[0]
        if incident.status == IncidentStatus.MONITORING.value:
            _reopen(session, context.now, incident.id, first)


def _reopen(session: Session, now: datetime, incident_id: int, alert: _Firing) -> None:
    """A new alert while the incident is watched after its fix: the fix did not hold, so the
    response re-opens (docs/communication.md). Rare, so the ORM object is fine here."""
    incident = session.get(models.Incident, incident_id, populate_existing=True)
    if incident is None or incident.status != IncidentStatus.MONITORING.value:
        return
    reason = f"new alert while monitoring the fix: {alert.summary or alert.dedup_key}"
    incidents.change_status(session, ENGINE, now, incident, IncidentStatus.INVESTIGATING.value, reason[:500])


def _stored(session: Session, context: _Context, firing: _Firing) -> models.Alert:
    """The alert as an ORM object, for the rarer acknowledge and resolve paths."""
    _settle(session, context)
    assert firing.id is not None
    alert = session.get(models.Alert, firing.id)
    assert alert is not None
    return alert


def _acknowledge(session: Session, context: _Context, integration: IntegrationRef, signal: Signal) -> Outcome:
    firing = context.firing.get((integration.id, signal.dedup_key))
    if firing is None:
        return Outcome(signal.dedup_key, Result.IGNORED)
    alert = _stored(session, context, firing)
    alert.acknowledged_at = alert.acknowledged_at or context.now
    alert.last_seen = context.now
    human_id = None
    if alert.incident_id is not None:
        incident = incidents.get(session, str(alert.incident_id))
        human_id = incident.human_id
        if incident.status == IncidentStatus.TRIGGERED.value:
            incidents.change_status(
                session, _actor(integration), context.now, incident, IncidentStatus.ACKNOWLEDGED.value,
                f"acknowledged by {integration.name}",
            )  # fmt: skip
            _status_changed(context, incident)
    return Outcome(signal.dedup_key, Result.ACKNOWLEDGED, alert.id, human_id)


def _status_changed(context: _Context, incident: models.Incident) -> None:
    """Later alerts of the batch must see the incident's new status (a resolved one
    is joined no more): the batch keeps plain copies, not the ORM object."""
    for slot, joined in context.joined.items():
        if joined.id == incident.id:
            context.joined[slot] = repo.IncidentState(incident.id, incident.human_id, incident.status)


def _resolve(session: Session, context: _Context, integration: IntegrationRef, signal: Signal) -> Outcome:
    firing = context.firing.pop((integration.id, signal.dedup_key), None)
    if firing is None:
        return Outcome(signal.dedup_key, Result.IGNORED)
    alert = _stored(session, context, firing)
    alert.status = AlertStatus.RESOLVED.value
    alert.resolved_at = context.now
    alert.last_seen = context.now
    human_id = None
    if alert.incident_id is not None:
        incident = incidents.get(session, str(alert.incident_id))
        human_id = incident.human_id
        actor = _actor(integration)
        timeline.add(
            session,
            incident,
            actor,
            context.now,
            EntryKind.ALERT,
            f"Alert resolved: {alert.summary or alert.dedup_key}",
            {"alert_id": alert.id, "dedup_key": alert.dedup_key, "event": "resolved"},
        )
        session.flush()
        if repo.firing_count_for_incident(session, incident.id) == 0:
            _all_clear(session, context.now, actor, incident, integration.auto_resolve)
            _status_changed(context, incident)
    return Outcome(signal.dedup_key, Result.RESOLVED, alert.id, human_id)


def _all_clear(session: Session, now: datetime, actor: Actor, incident: models.Incident, policy: AutoResolve) -> None:
    """Every alert of the incident has resolved: watch it, resolve it, or leave it, as configured."""
    target = {AutoResolve.MONITOR: IncidentStatus.MONITORING, AutoResolve.RESOLVE: IncidentStatus.RESOLVED}.get(policy)
    if target is None:
        return
    current = IncidentStatus(incident.status)
    if current in (IncidentStatus.MONITORING, IncidentStatus.RESOLVED, IncidentStatus.CANCELED):
        return
    if can_transition(current, target):
        incidents.change_status(session, actor, now, incident, target.value, "all alerts resolved")
