"""Ingesting signals: deduplicate, route, hold for maintenance, group into incidents.

`ingest_batch` handles the signals of many requests inside the caller's
transaction (the ingest writer commits them together). It is written for
storms: the batch's context (scheme, rules, windows) is read once, firing
alerts are looked up in one query, new alerts are inserted in one flush, and
the incident an alert joins is looked up once per service and group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from tocsin.domain import severity as severity_domain
from tocsin.domain.alerts import (
    DEFAULT_SEVERITY_RANK,
    Action,
    AlertStatus,
    AutoResolve,
    Rule,
    Signal,
    Urgency,
    Window,
    group_key,
    route,
)
from tocsin.domain.incidents import OPEN_STATUSES, IncidentStatus, can_transition
from tocsin.domain.matchers import parse_matchers
from tocsin.domain.timeline import EntryKind
from tocsin.services import incidents, severities, timeline
from tocsin.services.actor import Actor
from tocsin.services.integrations import IntegrationRef
from tocsin.storage import models
from tocsin.storage.repositories import alerts as repo
from tocsin.storage.repositories import directory as directory_repo

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


@dataclass
class _Context:
    """What a batch looks up once: rules per service, active windows, the severity scheme."""

    now: datetime
    scheme: severity_domain.SeverityScheme
    windows: list[Window]
    rules: dict[int, tuple[Rule, ...]]
    services: dict[str, models.Service]
    # (integration id, dedup key) → the firing alert, prefetched or created in this batch
    firing: dict[tuple[int, str], models.Alert]
    # (service id, group key or "") → the incident alerts of this batch join
    joined: dict[tuple[int, str], models.Incident]
    attached: list[tuple[models.Incident, models.Alert, Actor]]


def ingest(session: Session, now: datetime, integration: IntegrationRef, signals: Sequence[Signal]) -> list[Outcome]:
    return ingest_batch(session, now, [(integration, signals)])[0]


def ingest_batch(
    session: Session,
    now: datetime,
    items: Sequence[tuple[IntegrationRef, Sequence[Signal]]],
    scheme: severity_domain.SeverityScheme | None = None,
) -> list[list[Outcome]]:
    """`scheme` lets a caller that ingests many batches read the active scheme less often."""
    keys = {(integration.id, signal.dedup_key) for integration, signals in items for signal in signals}
    context = _Context(
        now=now,
        scheme=scheme or severities.active(session),
        windows=[
            Window(
                name=w.name,
                starts_at=w.starts_at,
                ends_at=w.ends_at,
                matchers=parse_matchers(w.matchers),
                service_key=w.service_key,
            )
            for w in repo.active_windows(session, now)
        ],
        rules={},
        services={},
        firing={(a.integration_id, a.dedup_key): a for a in repo.firing_alerts(session, keys)},
        joined={},
        attached=[],
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
    # One flush inserts every new alert (one multi-row INSERT); then they have ids.
    _settle(session, context)
    session.flush()
    return [[o.outcome() if isinstance(o, _Pending) else o for o in outcomes] for outcomes in results]


@dataclass
class _Pending:
    """An outcome that needs the new alert's id, known after the flush."""

    dedup_key: str
    alert: models.Alert
    incident: models.Incident | None
    held_by: str | None

    def outcome(self) -> Outcome:
        human_id = self.incident.human_id if self.incident is not None else None
        return Outcome(self.dedup_key, Result.CREATED, self.alert.id, human_id, self.held_by)


def _actor(integration: IntegrationRef) -> Actor:
    return Actor.system(f"integration:{integration.name}")


def _rules(session: Session, context: _Context, service_id: int) -> tuple[Rule, ...]:
    if service_id not in context.rules:
        context.rules[service_id] = tuple(
            Rule(
                matchers=parse_matchers(r.matchers),
                severity=r.severity,
                route_to=r.route_to.key if r.route_to else None,
                drop=r.drop,
                urgency=Urgency(r.urgency) if r.urgency else None,
                continue_=r.continue_,
            )
            for r in repo.rules_for(session, service_id)
        )
    return context.rules[service_id]


def _service(session: Session, context: _Context, key: str) -> models.Service | None:
    if key not in context.services:
        found = directory_repo.service_by_key(session, key)
        if found is None or found.archived_at is not None:
            return None
        context.services[key] = found
    return context.services[key]


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
    routed = route(_rules(session, context, integration.service_id), signal.labels, signal.severity)
    if routed.dropped:
        return Outcome(signal.dedup_key, Result.DROPPED)
    service = _service(session, context, routed.route_to or integration.service_key)
    if service is None:  # routed to a service that is gone: keep the alert on its own service
        service = _service(session, context, integration.service_key)
    assert service is not None
    level = level_for(context.scheme, routed.severity, signal.severity, integration.default_severity)
    window = next((w for w in context.windows if w.covers(service.key, signal.labels, context.now)), None)
    held_by = window.name if window else ("low urgency" if routed.urgency == Urgency.LOW else None)
    alert = models.Alert(
        integration_id=integration.id,
        service_id=service.id,
        dedup_key=signal.dedup_key,
        status=AlertStatus.FIRING.value,
        severity=level,
        sender_severity=signal.severity[:50],
        urgency=routed.urgency.value,
        summary=signal.summary,
        source=signal.source[:255],
        labels=signal.labels,
        details=signal.details,
        links=_links(signal),
        raw=_raw(signal),
        group_key=group_key(signal.labels, integration.group_by),
        count=1,
        first_seen=context.now,
        last_seen=context.now,
        suppressed_by=held_by,
    )
    # No flush here: the batch's new alerts are inserted together. On PostgreSQL a
    # second process may insert the same firing alert first; the unique index then
    # fails this batch, and the writer retries each request alone, when the other
    # process's alert is found and this one counts as a repeat.
    session.add(alert)
    context.firing[(integration.id, signal.dedup_key)] = alert
    incident = None if held_by else _join(session, context, integration, alert, service)
    return _Pending(signal.dedup_key, alert, incident, held_by)


def _repeat(alert: models.Alert, context: _Context, signal: Signal) -> Outcome:
    alert.count += 1
    alert.last_seen = context.now
    if signal.summary and signal.summary != alert.summary:
        alert.summary = signal.summary
    if signal.labels and signal.labels != alert.labels:
        alert.labels = signal.labels
    return Outcome(signal.dedup_key, Result.REPEATED, alert.id, None, alert.suppressed_by)


def _join(
    session: Session, context: _Context, integration: IntegrationRef, alert: models.Alert, service: models.Service
) -> models.Incident:
    """The incident this alert joins: by group key, then by the grouping window, else a new one."""
    by_group = (service.id, alert.group_key) if alert.group_key else None
    by_window = (service.id, "") if integration.group_window.total_seconds() > 0 else None
    for slot in (by_group, by_window):
        cached = context.joined.get(slot) if slot is not None else None
        # Earlier in this batch the incident may have been resolved (all its alerts cleared).
        if cached is not None and cached.status in _OPEN:
            incident = cached
            break
    else:
        incident = _find_or_declare(session, context, integration, alert, service)
    for slot in (by_group, by_window):
        if slot is not None:
            context.joined[slot] = incident
    context.attached.append((incident, alert, _actor(integration)))
    return incident


def _find_or_declare(
    session: Session, context: _Context, integration: IntegrationRef, alert: models.Alert, service: models.Service
) -> models.Incident:
    incident_id = None
    if alert.group_key:
        incident_id = repo.open_incident_for_group(session, service.id, alert.group_key, _OPEN)
    if incident_id is None and integration.group_window.total_seconds() > 0:
        since = context.now - integration.group_window
        incident_id = repo.recent_open_incident(session, service.id, since, _OPEN)
    if incident_id is not None:
        found = session.get(models.Incident, incident_id)
        assert found is not None
        return found
    return incidents.declare(
        session,
        _actor(integration),
        context.now,
        title=(alert.summary or alert.dedup_key)[:300],
        severity=alert.severity or "",
        services=[service.key],
    )


# Above this many alerts joining one incident in one batch, the timeline gets one
# entry listing them all instead of one entry each: a storm must not bury the
# humans' entries under thousands of lines.
_EACH_LIMIT = 10


def _settle(session: Session, context: _Context) -> None:
    """Insert the batch's new alerts and link them to their incidents now, because
    an acknowledge or resolve later in the batch may be about one of them."""
    if context.attached or session.new:
        session.flush()
        _record_attachments(session, context)


def _record_attachments(session: Session, context: _Context) -> None:
    attached_now, context.attached = context.attached, []
    by_incident: dict[int, list[tuple[models.Incident, models.Alert, Actor]]] = {}
    for incident, alert, actor in attached_now:
        alert.incident_id = incident.id
        by_incident.setdefault(incident.id, []).append((incident, alert, actor))
    for attached in by_incident.values():
        incident, first, actor = attached[0]
        if len(attached) <= _EACH_LIMIT:
            for _incident, alert, each_actor in attached:
                timeline.add(
                    session,
                    incident,
                    each_actor,
                    context.now,
                    EntryKind.ALERT,
                    f"Alert attached: {alert.summary or alert.dedup_key}",
                    {
                        "alert_id": alert.id,
                        "dedup_key": alert.dedup_key,
                        "event": "attached",
                        "severity": alert.severity,
                    },
                )
            continue
        listed = [{"alert_id": a.id, "dedup_key": a.dedup_key, "summary": a.summary[:200]} for _, a, _ in attached]
        timeline.add(
            session,
            incident,
            actor,
            context.now,
            EntryKind.ALERT,
            f"{len(attached)} alerts attached, first: {first.summary or first.dedup_key}",
            {"event": "attached", "alerts": listed},
        )


def _acknowledge(session: Session, context: _Context, integration: IntegrationRef, signal: Signal) -> Outcome:
    alert = context.firing.get((integration.id, signal.dedup_key))
    if alert is None:
        return Outcome(signal.dedup_key, Result.IGNORED)
    _settle(session, context)
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
    return Outcome(signal.dedup_key, Result.ACKNOWLEDGED, alert.id, human_id)


def _resolve(session: Session, context: _Context, integration: IntegrationRef, signal: Signal) -> Outcome:
    alert = context.firing.pop((integration.id, signal.dedup_key), None)
    if alert is None:
        return Outcome(signal.dedup_key, Result.IGNORED)
    _settle(session, context)
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
