"""Drills: practice incidents run end to end from a built-in scenario.

`start` fires the scenario's signals (`services.drill_scenarios`) through the real pipeline:
they enter by the service's internal `drill` integration and are ingested by
`services.alerts` — routed, held by maintenance windows, grouped, declared and paged like any
alert. The integration is what makes them a drill's: ingestion declares a drill incident for
its alerts and groups them only into drill incidents (and real alerts only into real ones), and
the `tocsin_drill` label each alert carries groups a drill's alerts into its own incident. A
drill incident pages the on-call person (practising the page is the point), its channel posts
say DRILL, and the status page, its subscribers and customer notices never see it.

A drill ends when its incident is resolved (finished) or canceled (canceled; `stop` cancels
it). That is noticed by `sync`, which the edges call before reading drills: it takes the end
time from the incident, so when it is noticed does not matter, and clears the drill's alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from tocsin.domain import drills as domain
from tocsin.domain.alerts import MAX_DEDUP_KEY, AlertStatus, Signal
from tocsin.domain.incidents import CLOSED_STATUSES, IncidentStatus
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import alerts, audit, directory, incidents, integrations, severities
from tocsin.services.actor import Actor
from tocsin.services.drill_scenarios import SCENARIOS, SOURCE
from tocsin.storage import models
from tocsin.storage.repositories import drills as repo
from tocsin.storage.repositories import incidents as incidents_repo

LABEL = "tocsin_drill"
TITLE_PREFIX = "DRILL: "
# Every alert of one drill shares the label's value, so they share one incident; no grouping
# window, so two drills of one service at once stay apart.
INTEGRATION_SETTINGS = {"group_by": [LABEL], "group_window_s": 0}


def scenario_of(name: str) -> domain.Scenario:
    try:
        return domain.Scenario(name.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in domain.Scenario)
        raise ValidationFailed(f"unknown scenario {name!r}; expected one of {known}", field="scenario") from None


def _service(session: Session, key: str | None) -> models.Service:
    if key:
        service = directory.get_service(session, key)
        if service.archived_at is not None:
            raise ValidationFailed(f"service {key!r} is archived", field="service")
        return service
    found = repo.first_service_with_policy(session)
    if found is None:
        raise ValidationFailed(
            "no service has an escalation policy, so a drill would page nobody; name one with service", field="service"
        )
    return found


def mark(signal: Signal, drill_id: int) -> Signal:
    """The signal as the drill's: its own dedup key (two drills never repeat into each other's
    alerts) and the label that groups it into the drill's incident."""
    return replace(
        signal,
        dedup_key=f"drill:{drill_id}:{signal.dedup_key}"[:MAX_DEDUP_KEY],
        labels={**signal.labels, LABEL: str(drill_id)},
        source=signal.source or SOURCE,
    )


def start(
    session: Session, actor: Actor, now: datetime, *, scenario: str, service_key: str | None = None
) -> models.Drill:
    """Start a drill: fire its scenario's signals, which declare its drill incident. Flushes;
    the caller commits and then wakes the engine, which pages the on-call person."""
    chosen = scenario_of(scenario)
    service = _service(session, service_key)
    drill = models.Drill(
        scenario=chosen.value,
        service_id=service.id,
        started_by_id=actor.user_id,
        started_by=actor.name[:200],
        started_at=now,
        state=domain.State.RUNNING.value,
    )
    drill.service = service
    session.add(drill)
    session.flush()
    door = integrations.internal(session, now, service, integrations.Kind.DRILL, INTEGRATION_SETTINGS)
    signals = [mark(signal, drill.id) for signal in SCENARIOS[chosen].signals(service.key, now)]
    outcomes = alerts.ingest(session, now, door, signals)
    human_id = next((outcome.incident for outcome in outcomes if outcome.incident), None)
    if human_id is None:
        held = next((outcome.held_by for outcome in outcomes if outcome.held_by), None)
        why = f"held by {held}" if held else "dropped by a routing rule"
        raise Conflict(f"the drill's alerts on {service.key} were {why}: no incident to practise on", field="service")
    incident = incidents.get(session, human_id)
    # Every page and post of it reads as practice, before anyone is woken by it.
    if not incident.title.startswith(TITLE_PREFIX):
        incident.title = (TITLE_PREFIX + incident.title)[:300]
    drill.incident = incident
    audit.record(
        session, actor, now, "start", "drill", str(drill.id),
        {"scenario": chosen.value, "service": service.key, "incident": incident.human_id},
    )  # fmt: skip
    session.flush()
    return drill


def get(session: Session, drill_id: int) -> models.Drill:
    drill = repo.drill_by_id(session, drill_id)
    if drill is None:
        raise NotFound(f"no drill {drill_id}", field="drill")
    return drill


def list_drills(session: Session, *, limit: int = 50, state: str | None = None) -> Sequence[models.Drill]:
    if state is not None:
        try:
            domain.State(state)
        except ValueError:
            known = ", ".join(s.value for s in domain.State)
            raise ValidationFailed(f"unknown state {state!r}; expected one of {known}", field="state") from None
    return repo.list_drills(session, limit=limit, state=state)


def sync(session: Session, now: datetime) -> int:
    """End the running drills whose incident was resolved or canceled; how many ended. Flushes."""
    ended = 0
    for drill in repo.list_drills(session, limit=1000, state=domain.State.RUNNING.value):
        ended += _settle(session, drill, now)
    session.flush()
    return ended


def _settle(session: Session, drill: models.Drill, now: datetime) -> int:
    incident = drill.incident
    if drill.state != domain.State.RUNNING or incident is None:
        return 0
    state = domain.ended(incident.status)
    if state is None:
        return 0
    drill.state = state.value
    drill.finished_at = incident.resolved_at or incident.canceled_at or now
    # Its alerts end with it: directly, not by resolve signals, whose timeline entries would
    # follow the resolution.
    session.execute(
        update(models.Alert)
        .where(models.Alert.incident_id == incident.id, models.Alert.status == AlertStatus.FIRING.value)
        .values(status=AlertStatus.RESOLVED.value, resolved_at=drill.finished_at, last_seen=drill.finished_at)
        .execution_options(synchronize_session=False)
    )
    return 1


def stop(session: Session, actor: Actor, now: datetime, drill_id: int) -> models.Drill:
    """Stop a running drill: cancel its incident (which stops its paging) and end it."""
    drill = get(session, drill_id)
    _settle(session, drill, now)
    if drill.state != domain.State.RUNNING:
        raise Conflict(f"drill {drill.id} has already ended ({drill.state})", field="drill")
    incident = drill.incident
    if incident is not None and IncidentStatus(incident.status) not in CLOSED_STATUSES:
        incidents.change_status(session, actor, now, incident, IncidentStatus.CANCELED.value, "drill stopped")
    _settle(session, drill, now)
    if drill.state == domain.State.RUNNING:  # no incident: nothing else to wait for
        drill.state, drill.finished_at = domain.State.CANCELED.value, now
    audit.record(session, actor, now, "stop", "drill", str(drill.id), {"scenario": drill.scenario})
    session.flush()
    return drill


def report(session: Session, drill: models.Drill, now: datetime) -> domain.Report | None:
    """How the response went against the severity's targets; None without an incident."""
    incident = drill.incident
    if incident is None:
        return None
    level = severities.require_level(session, incident.severity)
    entries = [
        domain.Entry(entry.kind, entry.at, entry.data or {}) for entry in incidents_repo.timeline(session, incident.id)
    ]
    return domain.report(
        started_at=drill.started_at,
        declared_at=incident.declared_at,
        acknowledged_at=incident.acknowledged_at,
        mitigated_at=incident.mitigated_at,
        ended_at=drill.finished_at,
        entries=entries,
        policy=level.policy,
        now=now,
    )
