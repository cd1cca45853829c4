"""Incident use cases: declare, move through the response, record what happened."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tocsin.domain.briefings import Briefing
from tocsin.domain.briefings import problem as briefing_problem
from tocsin.domain.incidents import (
    IncidentStatus,
    format_human_id,
    parse_human_id,
    transition_error,
)
from tocsin.domain.timeline import EntryKind
from tocsin.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from tocsin.services import (
    briefings,
    checklists,
    communication,
    escalations,
    postmortem_drafts,
    severities,
    targets,
    timeline,
)
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import incidents as repo
from tocsin.storage.repositories import severities as severities_repo

_MITIGATED = frozenset({IncidentStatus.MONITORING, IncidentStatus.RESOLVED})


def get(session: Session, ref: str) -> models.Incident:
    """Find an incident by its human id (`INC-2026-11-23-001`) or numeric id."""
    incident = None
    if parse_human_id(ref) is not None:
        incident = repo.incident_by_human_id(session, ref)
    elif ref.isascii() and ref.isdigit() and len(ref) <= 18:  # '¹' is a digit to Python; ids fit in 63 bits
        incident = repo.incident_by_id(session, int(ref))
    if incident is None:
        raise NotFound(f"no incident {ref!r}", field="incident")
    return incident


def _services(session: Session, keys: Sequence[str]) -> list[models.Service]:
    found: list[models.Service] = []
    for key in dict.fromkeys(keys):
        service = directory.service_by_key(session, key)
        if service is None or service.archived_at is not None:
            raise ValidationFailed(f"unknown service {key!r}", field="services")
        found.append(service)
    return found


def _user(session: Session, email: str, field: str) -> models.User:
    user = directory.user_by_email(session, email)
    if user is None or not user.active:
        raise ValidationFailed(f"unknown user {email!r}", field=field)
    return user


def declare(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    title: str,
    severity: str,
    services: Sequence[str] = (),
    impact: str = "",
    drill: bool = False,
    commander: str | None = None,
) -> models.Incident:
    title = title.strip()
    if not title:
        raise ValidationFailed("title must not be empty", field="title")
    level = severities.require_level(session, severity)
    service_rows = _services(session, services)
    commander_user = _user(session, commander, "commander") if commander else None

    day = now.date()
    sequence = repo.next_sequence(session, day)
    incident = models.Incident(
        human_id=format_human_id(day, sequence),
        title=title,
        impact=impact,
        severity=level.name,
        status=IncidentStatus.TRIGGERED.value,
        drill=drill,
        declared_at=now,
        updated_at=now,
        declared_by_id=actor.user_id,
    )
    incident.services = service_rows
    session.add(incident)
    try:
        session.flush()
    except IntegrityError as exc:  # the sequence upsert makes this unreachable; say so if not
        raise Conflict(f"incident id {incident.human_id} was taken concurrently; retry") from exc
    summary = f"Declared {level.name}{' drill' if drill else ''}: {title}"
    timeline.add(
        session,
        incident,
        actor,
        now,
        EntryKind.DECLARED,
        summary,
        {"severity": level.name, "services": [s.key for s in service_rows], "drill": drill, "impact": impact},
    )
    targets.schedule(session, incident, level)
    checklists.attach(session, now, incident)
    communication.schedule(session, incident, level, now)
    if commander_user is not None:
        _assign(session, actor, now, incident, "commander", commander_user)
    # Here and not in the API: incidents declared by alert ingestion page too.
    escalations.start(session, incident, now)
    session.flush()
    return incident


def change_status(
    session: Session,
    actor: Actor,
    now: datetime,
    incident: models.Incident,
    status: str,
    note: str | None = None,
) -> models.Incident:
    try:
        target = IncidentStatus(status)
    except ValueError:
        allowed = ", ".join(s.value for s in IncidentStatus)
        raise ValidationFailed(f"unknown status {status!r}; expected one of {allowed}", field="status") from None
    current = IncidentStatus(incident.status)
    if target == IncidentStatus.ACKNOWLEDGED and incident.acknowledged_at is not None and current != target:
        raise InvalidTransition(
            f"{incident.human_id} was already acknowledged at {incident.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC",
            field="status",
        )
    reason = transition_error(current, target)
    if reason is not None:
        raise InvalidTransition(f"{incident.human_id}: {reason}", field="status")

    reopened = (
        current in (IncidentStatus.RESOLVED, IncidentStatus.MONITORING) and target == IncidentStatus.INVESTIGATING
    )
    incident.status = target.value
    if target not in (IncidentStatus.TRIGGERED, IncidentStatus.CANCELED) and incident.acknowledged_at is None:
        incident.acknowledged_at = now
    if target in _MITIGATED and incident.mitigated_at is None:
        incident.mitigated_at = now
    if target == IncidentStatus.RESOLVED:
        incident.resolved_at = now
    if target == IncidentStatus.CANCELED:
        incident.canceled_at = now
    if reopened:
        incident.mitigated_at = None
        incident.resolved_at = None
        targets.reopen(session, incident, severities.require_level(session, incident.severity))

    summary = f"Status {current.value} → {target.value}"
    data: dict[str, object] = {"from": current.value, "to": target.value}
    if note:
        summary += f": {note}"
        data["note"] = note
    timeline.add(session, incident, actor, now, EntryKind.STATUS, summary, data)
    if target == IncidentStatus.RESOLVED:
        postmortem_drafts.on_resolved(session, actor, now, incident)
    targets.settle(session, incident, now)
    communication.status_changed(session, now, incident, current)
    if reopened and current == IncidentStatus.RESOLVED:
        # Closed and reopened: whoever was paged has gone back to sleep; start from the first level.
        escalations.reescalate(session, incident, now, actor)
    else:
        # Every other move means someone answered (each one sets acknowledged_at) or it is over:
        # paging stops, and pages not yet sent are canceled.
        ended = target in (IncidentStatus.RESOLVED, IncidentStatus.CANCELED)
        escalations.stop(session, incident, now, escalations.RESOLVED if ended else escalations.ACKNOWLEDGED, actor)
    session.flush()
    return incident


def change_severity(
    session: Session, actor: Actor, now: datetime, incident: models.Incident, severity: str, reason: str | None = None
) -> models.Incident:
    if IncidentStatus(incident.status) == IncidentStatus.CANCELED:
        raise InvalidTransition(f"{incident.human_id} is canceled", field="severity")
    level = severities.require_level(session, severity)
    if level.name == incident.severity:
        raise Conflict(f"{incident.human_id} is already {level.name}", field="severity")
    previous = incident.severity
    incident.severity = level.name
    summary = f"Severity {previous} → {level.name}" + (f": {reason}" if reason else "")
    timeline.add(session, incident, actor, now, EntryKind.SEVERITY, summary, {"from": previous, "to": level.name})
    targets.reschedule(session, incident, level)
    communication.severity_changed(session, now, incident, level)
    # Paging goes on under the new severity's variant, from where it is (docs/escalations.md).
    escalations.follow_severity(session, incident, now, actor)
    session.flush()
    return incident


def _assign(
    session: Session,
    actor: Actor,
    now: datetime,
    incident: models.Incident,
    role_key: str,
    user: models.User,
    briefing: Briefing | None = None,
) -> None:
    role = severities_repo.role_by_key(session, role_key)
    if role is None:
        known = ", ".join(r.key for r in severities_repo.list_roles(session))
        raise ValidationFailed(f"unknown role {role_key!r}; roles are {known}", field="role")
    current = repo.current_role_holder(session, incident.id, role_key)
    if current is not None and current.user_id == user.id:
        raise Conflict(f"{user.email} already holds {role.name} on {incident.human_id}", field="user")
    if briefing is not None and current is None:
        raise ValidationFailed(
            f"a briefing goes with a hand-off, and nobody holds {role.name} on {incident.human_id} yet",
            field="briefing",
        )
    previous = None
    if current is not None:
        current.released_at = now
        previous = current.user.email
    assignment = models.RoleAssignment(role_key=role_key, user=user, assigned_at=now)
    incident.roles.append(assignment)
    summary = f"{role.name}: {user.name}" + (f" (handed over from {previous})" if previous else "")
    data: dict[str, object] = {"role": role_key, "from": previous, "to": user.email}
    if briefing is not None:
        summary += f". Briefing: {briefings.summary(briefing)}"
        data["briefing"] = briefing.as_json()
    timeline.add(session, incident, actor, now, EntryKind.ROLE, summary, data)
    if briefing is not None:
        session.flush()  # the assignment's id, which the briefing names
        briefings.record(session, actor, now, incident, assignment, role.name, previous, briefing)


def assign_role(
    session: Session,
    actor: Actor,
    now: datetime,
    incident: models.Incident,
    role_key: str,
    user_email: str,
    briefing: Briefing | None = None,
) -> models.Incident:
    """Give a role to someone; a `briefing` goes with handing over a role someone holds (services.briefings)."""
    if IncidentStatus(incident.status) == IncidentStatus.CANCELED:
        raise InvalidTransition(f"{incident.human_id} is canceled", field="role")
    if briefing is not None:
        briefing = briefing.cleaned()
        problem = briefing_problem(briefing)
        if problem is not None:
            raise ValidationFailed(problem[1], field=problem[0])
    _assign(session, actor, now, incident, role_key, _user(session, user_email, "user"), briefing)
    session.flush()
    session.refresh(incident)
    return incident


def add_note(
    session: Session, actor: Actor, now: datetime, incident: models.Incident, text: str
) -> models.TimelineEntry:
    text = text.strip()
    if not text:
        raise ValidationFailed("a note needs text", field="text")
    entry = timeline.add(session, incident, actor, now, EntryKind.NOTE, text)
    session.flush()
    return entry


def post_update(
    session: Session,
    actor: Actor,
    now: datetime,
    incident: models.Incident,
    text: str,
    *,
    public: bool = False,
    template: str | None = None,
) -> models.TimelineEntry:
    """`template`: the message template the text was written from, kept on the entry."""
    text = text.strip()
    if not text:
        raise ValidationFailed("an update needs text", field="text")
    if public and incident.drill:
        raise Conflict(
            f"{incident.human_id} is a drill: its updates never reach the status page or customers", field="public"
        )
    data: dict[str, object] = {"public": public}
    if template is not None:
        data["template"] = template
    entry = timeline.add(session, incident, actor, now, EntryKind.UPDATE, text, data)
    communication.updated(session, actor, now, incident, public=public)
    session.flush()
    return entry


def edit(
    session: Session,
    actor: Actor,
    now: datetime,
    incident: models.Incident,
    *,
    title: str | None = None,
    impact: str | None = None,
    services: Sequence[str] | None = None,
) -> models.Incident:
    changes: dict[str, dict[str, object]] = {}
    if title is not None:
        title = title.strip()
        if not title:
            raise ValidationFailed("title must not be empty", field="title")
        if title != incident.title:
            changes["title"] = {"from": incident.title, "to": title}
            incident.title = title
    if impact is not None and impact != incident.impact:
        changes["impact"] = {"from": incident.impact, "to": impact}
        incident.impact = impact
    if services is not None:
        rows = _services(session, services)
        before = [s.key for s in incident.services]
        after = [s.key for s in rows]
        if sorted(before) != sorted(after):
            changes["services"] = {"from": before, "to": after}
            incident.services = rows
    for field, change in changes.items():
        timeline.add(
            session, incident, actor, now, EntryKind.FIELD, f"{field.capitalize()} changed", {"field": field, **change}
        )
    if "services" in changes:
        # Another first service with a policy pages now (docs/escalations.md).
        escalations.follow_incident_services(session, incident, now, actor)
    session.flush()
    return incident
