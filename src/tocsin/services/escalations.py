"""Escalations: from a declared incident to notification rows, until someone answers.

`domain.escalation.plan` gives an incident's timetable; the incident's
`escalations` row remembers how far along it is (`next_step`, an index into
that timetable, and `next_due_at`), so a restart continues where it was. The
engine pages each due step (`escalation_steps.due`); this module starts,
stops, restarts and re-plans the row.

The rule that matters most: a page never goes out after an acknowledgement.
`stop()` runs in the transaction that acknowledges, resolves or cancels. It
locks the escalation row first, so an engine cycle that is paging the incident
at that moment commits before it, and the rows that cycle made are canceled
with the rest by the UPDATE that follows (on PostgreSQL each statement sees
what was committed before it started; on SQLite writers are serialized).

A running escalation follows changes to its plan from where it is
(`domain.escalation.follow`, docs/escalations.md): a new severity
(`follow_severity`, from `incidents.change_severity`), an edited policy
(`follow_policy`) or a service given another policy (`follow_service`). Each
locks the rows it moves, like `stop()`.

The queries live here rather than in `storage.repositories` only because this
change was limited to these files; they belong in a `repositories/escalations.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from tocsin.domain import escalation as domain
from tocsin.domain import notify
from tocsin.domain.incidents import IncidentStatus
from tocsin.domain.timeline import EntryKind
from tocsin.services import policies, severities, timeline
from tocsin.services.actor import ENGINE, Actor
from tocsin.storage import models

ACTIVE = "active"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
EXHAUSTED = "exhausted"
RECORDED = "recorded"
# Stopping changes these; a recorded escalation never paged, an ended one stays as it ended.
_RUNNING = (ACTIVE, EXHAUSTED)
# What a change of plan can move: a running timetable, or a recorded one that may start paging.
_FOLLOWING = (ACTIVE, RECORDED)


# ---- the incident's lifecycle ------------------------------------------------------------------


def start(session: Session, incident: models.Incident, now: datetime) -> models.Escalation:
    """Create the incident's escalation: active with its first step due, or recorded with the
    reason nobody is paged (no policy, a record-only severity)."""
    policy, reason = _policy_of(incident)
    escalation = models.Escalation(
        incident_id=incident.id,
        policy_id=policy.id if policy is not None else None,
        severity=incident.severity,
        status=RECORDED,
        started_at=now,
        next_step=0,
        next_due_at=None,
        reason=reason,
        updated_at=now,
    )
    if policy is not None:
        plan = domain.plan(policies.to_domain(policy), incident.severity, now)
        if plan.steps:
            escalation.status, escalation.next_due_at = ACTIVE, plan.steps[0].due_at
        else:
            escalation.reason = plan.reason or "the escalation plan has no steps"
            # A severity the team chose not to page for: worth one line, so nobody waits for a page.
            timeline.add(session, incident, ENGINE, now, EntryKind.NOTE, f"Not paging: {escalation.reason}")
    session.add(escalation)
    return escalation


def stop(session: Session, incident: models.Incident, now: datetime, status: str, actor: Actor = ENGINE) -> int:
    """End the escalation as `status` (acknowledged or resolved) and cancel every page not yet
    claimed by a sender; returns how many were canceled. `sending` rows are the sender's."""
    escalation = _locked(session, incident.id)
    was_running = escalation is not None and escalation.status in _RUNNING
    if escalation is not None and was_running:
        escalation.status, escalation.next_due_at, escalation.updated_at = status, None, now
        session.flush()
    canceled = _cancel_pending(session, incident.id)
    if was_running or canceled:
        timeline.add(
            session,
            incident,
            actor,
            now,
            EntryKind.NOTE,
            f"Paging stopped: incident {status}; {_pages(canceled)} canceled",
            {"event": "escalation_stopped", "status": status, "canceled": canceled},
        )
    return canceled


def reescalate(session: Session, incident: models.Incident, now: datetime, actor: Actor = ENGINE) -> None:
    """A reopened incident starts its policy over from the first level (`domain.reescalate`):
    the old timetable may have run out, and an incident open again needs the first level."""
    escalation = _locked(session, incident.id)
    if escalation is None:  # an incident from before escalations existed
        start(session, incident, now)
        return
    policy = session.get(models.EscalationPolicy, escalation.policy_id) if escalation.policy_id else None
    if policy is None:
        return
    plan = domain.reescalate(policies.to_domain(policy), incident.severity, now)
    if not plan.steps:
        return
    escalation.severity = incident.severity
    escalation.status, escalation.started_at, escalation.updated_at = ACTIVE, now, now
    escalation.next_step, escalation.next_due_at, escalation.reason = 0, plan.steps[0].due_at, ""
    summary = f"Paging starts over: level 1 of {policy.name}"
    timeline.add(session, incident, actor, now, EntryKind.NOTE, summary, {"event": "escalation_restarted"})


def escalate_now(session: Session, incident: models.Incident, now: datetime) -> bool:
    """The acknowledge target was missed: the next level is due now instead of after its delay.
    False when there is nothing left to move up (stopped, exhausted, or already due)."""
    escalation = _locked(session, incident.id)
    if escalation is None or escalation.status != ACTIVE or escalation.next_due_at is None:
        return False
    if escalation.next_due_at <= now:
        return False
    policy = session.get(models.EscalationPolicy, escalation.policy_id) if escalation.policy_id else None
    if policy is None:
        return False
    table = timetable(policies.to_domain(policy), escalation)
    if table is None:
        return False
    moved = domain.escalate_now(table, now)
    escalation.next_due_at, escalation.updated_at = moved.steps[escalation.next_step].due_at, now
    return True


def for_incident(session: Session, incident_id: int) -> models.Escalation | None:
    return session.scalar(select(models.Escalation).where(models.Escalation.incident_id == incident_id))


def timetable(policy: domain.Policy, escalation: models.Escalation) -> domain.Plan | None:
    """The plan as it stands (see `domain.escalation.resume`); None when nothing is left."""
    if escalation.next_due_at is None:
        return None
    plan = domain.plan(policy, escalation.severity, escalation.started_at)
    return domain.resume(plan, escalation.next_step, escalation.next_due_at)


def answered(
    status: str, acknowledged_at: datetime | None, resolved_at: datetime | None, since: datetime
) -> str | None:
    """How an incident's escalation ended when the incident says it did (ACKNOWLEDGED, RESOLVED), or None."""
    if status == IncidentStatus.CANCELED or resolved_at is not None:
        return RESOLVED
    # An acknowledgement before `since` belongs to an earlier timetable (before a reopen).
    if acknowledged_at is not None and acknowledged_at >= since:
        return ACKNOWLEDGED
    return None


def exhausted_entry(policy_name: str) -> tuple[str, dict[str, object]]:
    summary = f"Escalation exhausted: every level of {policy_name} was paged and nobody acknowledged"
    return summary, {"event": "escalation_exhausted"}


# ---- emergencies -------------------------------------------------------------------------------


def emergency_of(session: Session, incident: models.Incident) -> str | None:
    """Why pages for the incident ignore quiet hours (`domain.notify.emergency`), or None."""
    level = severities.active(session).level(incident.severity)
    services = [service.key for service in incident.services if service.emergency]
    return notify.emergency(incident.severity, level is not None and level.emergency, services)


# ---- following a change of plan ----------------------------------------------------------------


def follow_severity(session: Session, incident: models.Incident, now: datetime, actor: Actor = ENGINE) -> None:
    """The incident's severity changed: its escalation goes on under the new severity's variant."""
    escalation = _locked(session, incident.id)
    if escalation is None or escalation.status not in _FOLLOWING or escalation.severity == incident.severity:
        return
    policy = session.get(models.EscalationPolicy, escalation.policy_id) if escalation.policy_id else None
    if policy is None:
        escalation.severity, escalation.updated_at = incident.severity, now
        return
    current = policies.to_domain(policy)
    before = domain.plan(current, escalation.severity, escalation.started_at)
    _follow(session, incident, escalation, before, policy, current, now, actor, f"severity {incident.severity}")


def follow_policy(
    session: Session, policy: models.EscalationPolicy, before: domain.Policy, now: datetime, actor: Actor = ENGINE
) -> int:
    """`policy` was edited (it was `before`): every escalation on it goes on under the new
    levels, delays, repeats and variants. Returns how many escalations moved."""
    rows = _locked_where(session, models.Escalation.policy_id == policy.id)
    if not rows:
        return 0
    after = policies.to_domain(policy)
    moved = 0
    for escalation in rows:
        incident = session.get(models.Incident, escalation.incident_id)
        assert incident is not None  # the escalation row is deleted with its incident
        old = domain.plan(before, escalation.severity, escalation.started_at)
        why = f"the edited escalation policy {policy.name}"
        moved += _follow(session, incident, escalation, old, policy, after, now, actor, why)
    return moved


def follow_service(session: Session, service: models.Service, now: datetime, actor: Actor = ENGINE) -> int:
    """`service` was given another escalation policy (or none): the open incidents on it whose
    escalation used another policy go on under the one that now pages for them (the first of
    their services with a policy, as at declaration). Returns how many escalations moved."""
    links = select(models.IncidentService.incident_id).where(models.IncidentService.service_id == service.id)
    rows = _locked_where(session, models.Escalation.incident_id.in_(links))
    moved = 0
    for escalation in rows:
        incident = session.get(models.Incident, escalation.incident_id)
        assert incident is not None
        moved += _follow_services(session, incident, escalation, now, actor)
    return moved


def follow_incident_services(session: Session, incident: models.Incident, now: datetime, actor: Actor = ENGINE) -> None:
    """The incident's services changed: its escalation goes on under the policy that now pages
    for it (the first of its services with a policy, as at declaration)."""
    escalation = _locked(session, incident.id)
    if escalation is not None:
        _follow_services(session, incident, escalation, now, actor)


def _follow_services(
    session: Session, incident: models.Incident, escalation: models.Escalation, now: datetime, actor: Actor
) -> int:
    """Move `escalation` onto the policy the incident's services now give it; 1 when it moved."""
    if escalation.status not in _FOLLOWING:
        return 0
    policy, reason = _policy_of(incident)
    if (policy.id if policy is not None else None) == escalation.policy_id:
        return 0
    old_policy = session.get(models.EscalationPolicy, escalation.policy_id) if escalation.policy_id else None
    old = (
        domain.plan(policies.to_domain(old_policy), escalation.severity, escalation.started_at) if old_policy else None
    )
    if policy is None:
        escalation.policy_id = None
        return _record(session, incident, escalation, reason, now, actor)
    owner = next(s.key for s in incident.services if s.escalation_policy_id == policy.id)
    why = f"escalation policy {policy.name} of service {owner}"
    return _follow(session, incident, escalation, old, policy, policies.to_domain(policy), now, actor, why)


def _follow(
    session: Session,
    incident: models.Incident,
    escalation: models.Escalation,
    old: domain.Plan | None,
    policy: models.EscalationPolicy,
    rules: domain.Policy,
    now: datetime,
    actor: Actor,
    why: str,
) -> int:
    """Move `escalation` (whose plan was `old`) onto `policy` (`rules`) for the incident's severity,
    from where it is; 1 when it moved, 0 when nothing changed for it."""
    severity = incident.severity
    was = (escalation.status, escalation.policy_id, escalation.next_step, escalation.next_due_at)
    escalation.severity, escalation.policy_id = severity, policy.id
    if escalation.status == RECORDED:
        return _start_recorded(session, incident, escalation, policy, rules, now, actor, why)
    new = domain.plan(rules, severity, escalation.started_at)
    if not new.steps:
        return _record(session, incident, escalation, new.reason or "the escalation plan has no steps", now, actor)
    position = None
    if old is not None and escalation.next_due_at is not None:
        position = domain.follow(old, new, escalation.next_step, escalation.next_due_at, now)
    escalation.updated_at = now
    if position is None:
        escalation.status, escalation.next_due_at = EXHAUSTED, None
        summary, data = exhausted_entry(policy.name)
        timeline.add(session, incident, actor, now, EntryKind.NOTE, summary, data)
        return 1
    escalation.next_step, escalation.next_due_at = position.next_step, position.next_due_at
    if (escalation.status, escalation.policy_id, escalation.next_step, escalation.next_due_at) == was:
        return 0
    step = new.steps[position.next_step]
    when = "now" if position.next_due_at <= now else f"at {position.next_due_at.astimezone(UTC):%H:%M} UTC"
    level = f"level {step.level + 1} of {policy.name}" + (f", round {step.round + 1}" if step.round else "")
    timeline.add(
        session,
        incident,
        actor,
        now,
        EntryKind.NOTE,
        f"Paging follows {why}: {level} is paged {when}",
        {"event": "escalation_replanned", "round": step.round, "level": step.level, "due_at": _iso(position)},
    )
    return 1


def _start_recorded(
    session: Session,
    incident: models.Incident,
    escalation: models.Escalation,
    policy: models.EscalationPolicy,
    rules: domain.Policy,
    now: datetime,
    actor: Actor,
    why: str,
) -> int:
    """A recorded escalation (nobody was paged) starts paging from the first level when the change
    makes its severity page and nobody has answered the incident yet."""
    plan = domain.plan(rules, incident.severity, now)
    if not plan.steps:
        escalation.reason, escalation.updated_at = plan.reason or escalation.reason, now
        return 0
    if answered(incident.status, incident.acknowledged_at, incident.resolved_at, escalation.started_at) is not None:
        return 0
    escalation.status, escalation.started_at, escalation.updated_at = ACTIVE, now, now
    escalation.next_step, escalation.next_due_at, escalation.reason = 0, plan.steps[0].due_at, ""
    timeline.add(
        session,
        incident,
        actor,
        now,
        EntryKind.NOTE,
        f"Paging starts under {why}: level 1 of {policy.name}",
        {"event": "escalation_started"},
    )
    return 1


def _record(
    session: Session, incident: models.Incident, escalation: models.Escalation, reason: str, now: datetime, actor: Actor
) -> int:
    """A running escalation stops paging and records why; its pages not yet sent are canceled."""
    if escalation.status != ACTIVE:
        escalation.reason, escalation.updated_at = reason, now
        return 0
    escalation.status, escalation.next_step, escalation.next_due_at = RECORDED, 0, None
    escalation.reason, escalation.updated_at = reason, now
    session.flush()
    canceled = _cancel_pending(session, incident.id)
    timeline.add(
        session,
        incident,
        actor,
        now,
        EntryKind.NOTE,
        f"Paging stopped: {reason}; {_pages(canceled)} canceled",
        {"event": "escalation_recorded", "canceled": canceled},
    )
    return 1


def _iso(position: domain.Position) -> str:
    return position.next_due_at.astimezone(UTC).isoformat()


def _pages(count: int) -> str:
    return f"{count} pending page{'' if count == 1 else 's'}"


# ---- queries ------------------------------------------------------------------------------------


def _cancel_pending(session: Session, incident_id: int) -> int:
    # After the escalation's lock: rows a concurrent engine cycle inserted for this incident are committed now.
    result = session.execute(
        update(models.Notification)
        .where(
            models.Notification.incident_id == incident_id,
            models.Notification.status == "pending",
            # Pages only: a team channel's post (e.g. "resolved") still goes out.
            models.Notification.channel_id.is_(None),
        )
        .values(status="canceled", deadline=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _locked(session: Session, incident_id: int) -> models.Escalation | None:
    # Blocks (PostgreSQL) while an engine cycle holds the row: see the module docstring.
    query = (
        select(models.Escalation)
        .where(models.Escalation.incident_id == incident_id)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def _locked_where(session: Session, condition: ColumnElement[bool]) -> Sequence[models.Escalation]:
    """The escalations of open incidents a change of plan can move, locked as `_locked` does.

    Their incidents are locked first, as a request that acknowledges one locks its incident
    before its escalation: taken in the other order, the two would deadlock. Ids in order, so
    that two edits at once wait for each other instead.
    """
    escalation, incident = models.Escalation, models.Incident
    found = session.execute(
        select(escalation.id, escalation.incident_id)
        .join(incident, incident.id == escalation.incident_id)
        .where(
            condition,
            escalation.status.in_(_FOLLOWING),
            incident.resolved_at.is_(None),
            incident.canceled_at.is_(None),
        )
    ).all()
    if not found:
        return []
    query = (
        select(escalation)
        .where(escalation.id.in_([row.id for row in found]), escalation.status.in_(_FOLLOWING))
        .order_by(escalation.id)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        incidents = sorted({row.incident_id for row in found})
        session.execute(select(incident.id).where(incident.id.in_(incidents)).order_by(incident.id).with_for_update())
        query = query.with_for_update()
    return session.scalars(query).all()


def _policy_of(incident: models.Incident) -> tuple[models.EscalationPolicy | None, str]:
    # One escalation per incident: the first service named that has a policy pages.
    services: Sequence[models.Service] = incident.services
    for service in services:
        if service.escalation_policy is not None:
            return service.escalation_policy, ""
    if not services:
        return None, "the incident has no service: nobody is paged"
    keys = ", ".join(repr(service.key) for service in services)
    noun = "service" if len(services) == 1 else "services"
    return None, f"{noun} {keys} {'has' if len(services) == 1 else 'have'} no escalation policy: nobody is paged"
