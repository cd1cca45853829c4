"""Response-target clocks: scheduled at declaration, settled by status moves,
and recorded as missed by the engine when they fall due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.domain.clocks import TargetKind, target_due
from tocsin.domain.incidents import IncidentStatus
from tocsin.domain.severity import SeverityLevel
from tocsin.domain.timeline import EntryKind
from tocsin.services import escalations, timeline
from tocsin.services.actor import ENGINE
from tocsin.storage import models
from tocsin.storage.repositories import targets as repo


def schedule(session: Session, incident: models.Incident, level: SeverityLevel) -> None:
    for kind in TargetKind:
        due = target_due(kind, incident.declared_at, level.policy)
        if due is not None:
            session.add(models.ResponseTarget(incident_id=incident.id, kind=kind.value, due_at=due, status="pending"))


def reschedule(session: Session, incident: models.Incident, level: SeverityLevel) -> None:
    """A severity change moves the pending targets (they still count from the declaration)."""
    existing = {target.kind: target for target in repo.targets_for(session, incident.id)}
    for kind in TargetKind:
        due = target_due(kind, incident.declared_at, level.policy)
        target = existing.get(kind.value)
        if target is None:
            if due is not None and not _already_met(incident, kind):
                session.add(models.ResponseTarget(incident_id=incident.id, kind=kind.value, due_at=due))
        elif target.status == "pending":
            if due is None:
                target.status = "canceled"
            else:
                target.due_at = due


def _already_met(incident: models.Incident, kind: TargetKind) -> bool:
    if kind == TargetKind.ACKNOWLEDGE:
        return incident.acknowledged_at is not None
    return incident.resolved_at is not None or incident.status == IncidentStatus.CANCELED


def settle(session: Session, incident: models.Incident, now: datetime) -> None:
    """Mark pending targets met (or canceled) after a status move."""
    for target in repo.targets_for(session, incident.id):
        if target.status != "pending":
            continue
        if incident.status == IncidentStatus.CANCELED:
            target.status, target.settled_at = "canceled", now
        elif _already_met(incident, TargetKind(target.kind)):
            target.status, target.settled_at = "met", now


def reopen(session: Session, incident: models.Incident, level: SeverityLevel) -> None:
    """A reopened incident owes a resolution again, with the original deadline."""
    for target in repo.targets_for(session, incident.id):
        if target.kind == TargetKind.RESOLVE and target.status == "met":
            due = target_due(TargetKind.RESOLVE, incident.declared_at, level.policy)
            if due is not None:
                target.status, target.settled_at, target.due_at = "pending", None, due


@dataclass(frozen=True)
class Breach:
    incident_human_id: str
    kind: TargetKind
    due_at: datetime


_LABEL = {TargetKind.ACKNOWLEDGE: "Acknowledge", TargetKind.RESOLVE: "Resolve"}


def record_due_breaches(session: Session, now: datetime, limit: int = 100) -> list[Breach]:
    """Claim due targets and write one `target_missed` entry for each this process wins."""
    breaches: list[Breach] = []
    for target_id in repo.due_target_ids(session, now, limit):
        target = repo.claim_target(session, target_id, "missed", now)
        if target is None:
            continue  # another process got there first
        incident = session.get(models.Incident, target.incident_id)
        assert incident is not None
        kind = TargetKind(target.kind)
        minutes = int((target.due_at - incident.declared_at).total_seconds() // 60)
        timeline.add(
            session,
            incident,
            ENGINE,
            now,
            EntryKind.TARGET_MISSED,
            f"{_LABEL[kind]} target missed: {incident.severity} expects it within {minutes} min",
            {"target": kind.value, "due_at": target.due_at.isoformat(), "severity": incident.severity},
        )
        if kind == TargetKind.ACKNOWLEDGE:
            # Nobody answered in time: the next level should not wait out its delay too.
            escalations.escalate_now(session, incident, now)
        breaches.append(Breach(incident.human_id, kind, target.due_at))
    session.flush()
    return breaches
