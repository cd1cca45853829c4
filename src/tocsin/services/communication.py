"""The update cadence, the customer notice and the monitoring window, as reminder rows.

Scheduled by the incident's use cases (`incidents.declare`, `post_update`, `change_status`,
`change_severity` call in here) and worked off by the engine's `communication` module
(`process_due`), which climbs the ladder of `domain.communication` one rung per claim:

    update        due every `update_every` after the last update (or the declaration); any
                  update settles it and schedules the next
    customer      due `customer_notice_within` after the declaration; a public update settles it;
                  never for a drill
    monitoring    due `watch_after_fix` after the incident reached monitoring; when it passes
                  the timeline says so, the commander is told, and the incident may be resolved

Reminders are notification rows (kind `reminder`) to the person's verified contact methods, in
the order of their notification rules, each keyed by reminder, rung and method so a replay
inserts nothing. A reminder left unanswered to its last rung pages through the incident's
escalation policy from its first level (unless it is still paging for the declaration); the
update that finally comes stops that paging.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.domain import message_templates as templates_domain
from tocsin.domain.communication import (
    GRACE,
    Action,
    ReminderKind,
    customer_notice_due,
    next_update_due,
    resolvable_at,
    rung,
)
from tocsin.domain.incidents import IncidentStatus
from tocsin.domain.severity import SeverityLevel
from tocsin.domain.timeline import EntryKind
from tocsin.services import escalations, notifications, severities, timeline
from tocsin.services.actor import ENGINE, Actor
from tocsin.storage import models
from tocsin.storage.repositories import communication as repo

PENDING, MET, DONE, PAGED, CANCELED = "pending", "met", "done", "paged", "canceled"
_CLOSED = (IncidentStatus.RESOLVED.value, IncidentStatus.CANCELED.value)
_OWED = (ReminderKind.UPDATE.value, ReminderKind.CUSTOMER_NOTICE.value)


def _add(session: Session, incident: models.Incident, kind: ReminderKind, due: datetime, now: datetime) -> None:
    session.add(
        models.CommunicationReminder(
            incident_id=incident.id,
            kind=kind.value,
            owed_at=due,
            due_at=due,
            status=PENDING,
            stage=0,
            created_at=now,
        )
    )


# ---- scheduling, from the incident's use cases --------------------------------------------------


def schedule(session: Session, incident: models.Incident, level: SeverityLevel, now: datetime) -> None:
    """At the declaration: the first update, and the customer notice when the policy asks for one."""
    update_due = next_update_due(level.policy, incident.declared_at)
    if update_due is not None:
        _add(session, incident, ReminderKind.UPDATE, update_due, now)
    notice_due = customer_notice_due(level.policy, incident.declared_at, incident.drill)
    if notice_due is not None:
        _add(session, incident, ReminderKind.CUSTOMER_NOTICE, notice_due, now)


def updated(session: Session, actor: Actor, now: datetime, incident: models.Incident, *, public: bool) -> None:
    """An update was posted: it settles the update owed (and, when public, the customer notice)
    and the next one is owed a cadence from now."""
    kinds = [ReminderKind.UPDATE.value] + ([ReminderKind.CUSTOMER_NOTICE.value] if public else [])
    paged = [r for r in repo.reminders_for(session, incident.id) if r.kind in kinds and r.status == PAGED]
    _settle(session, incident.id, kinds, MET, now, also_paged=True)
    if paged:
        # The paging a missing update started has its answer now.
        escalation = escalations.for_incident(session, incident.id)
        if escalation is not None and escalation.status == escalations.ACTIVE and incident.acknowledged_at:
            escalations.stop(session, incident, now, escalations.ACKNOWLEDGED, actor)
    if incident.status in _CLOSED:
        return
    level = severities.require_level(session, incident.severity)
    due = next_update_due(level.policy, now)
    if due is not None:
        _add(session, incident, ReminderKind.UPDATE, due, now)


def status_changed(session: Session, now: datetime, incident: models.Incident, previous: IncidentStatus) -> None:
    """After a status move: closing stops every reminder, reaching monitoring opens the window,
    leaving it (a reopening) closes the window, and a resolved incident reopened owes updates again."""
    status = IncidentStatus(incident.status)
    if status.value in _CLOSED:
        _settle(session, incident.id, [kind.value for kind in ReminderKind], CANCELED, now)
        return
    if status == IncidentStatus.MONITORING and previous != IncidentStatus.MONITORING:
        level = severities.require_level(session, incident.severity)
        if level.policy.watch_after_fix and incident.mitigated_at is not None:
            _add(session, incident, ReminderKind.MONITORING, resolvable_at(level.policy, incident.mitigated_at), now)
        return
    if previous in (IncidentStatus.MONITORING, IncidentStatus.RESOLVED) and status != previous:
        _settle(session, incident.id, [ReminderKind.MONITORING.value], CANCELED, now)
        if previous == IncidentStatus.RESOLVED and not repo.pending_for(
            session, incident.id, [ReminderKind.UPDATE.value]
        ):
            level = severities.require_level(session, incident.severity)
            due = next_update_due(level.policy, now)
            if due is not None:
                _add(session, incident, ReminderKind.UPDATE, due, now)


def severity_changed(session: Session, now: datetime, incident: models.Incident, level: SeverityLevel) -> None:
    """A new severity brings its own cadence, customer notice and window, counted from the same
    instants as before: the last update, the declaration, the mitigation."""
    if incident.status in _CLOSED:
        return
    pending = {reminder.kind: reminder for reminder in repo.pending_for(session, incident.id, list(ReminderKind))}
    _retime(
        session,
        now,
        incident,
        ReminderKind.UPDATE,
        pending.get(ReminderKind.UPDATE.value),
        next_update_due(level.policy, _last_update_at(session, incident)),
        still_owed=lambda: True,
    )
    _retime(
        session,
        now,
        incident,
        ReminderKind.CUSTOMER_NOTICE,
        pending.get(ReminderKind.CUSTOMER_NOTICE.value),
        customer_notice_due(level.policy, incident.declared_at, incident.drill),
        still_owed=lambda: not _told_customers(session, incident.id),
    )
    window = pending.get(ReminderKind.MONITORING.value)
    if window is not None and incident.mitigated_at is not None:
        window.due_at = window.owed_at = resolvable_at(level.policy, incident.mitigated_at)


def _retime(
    session: Session,
    now: datetime,
    incident: models.Incident,
    kind: ReminderKind,
    pending: models.CommunicationReminder | None,
    due: datetime | None,
    *,
    still_owed: Callable[[], bool],
) -> None:
    """Under a new severity: owe `kind` when nothing was pending and the new policy asks for it
    (and `still_owed()`), cancel a reminder not yet sent when it no longer does, or move it.
    One already sent (a later rung) keeps its ladder."""
    if pending is None:
        if due is not None and still_owed():
            _add(session, incident, kind, max(due, now), now)
    elif pending.stage == 0:
        if due is None:
            pending.status, pending.settled_at = CANCELED, now
        else:
            pending.due_at = pending.owed_at = due


def _settle(
    session: Session, incident_id: int, kinds: Sequence[str], status: str, now: datetime, *, also_paged: bool = False
) -> None:
    states = (PENDING, PAGED) if also_paged else (PENDING,)
    rows = session.scalars(
        select(models.CommunicationReminder).where(
            models.CommunicationReminder.incident_id == incident_id,
            models.CommunicationReminder.kind.in_(kinds),
            models.CommunicationReminder.status.in_(states),
        )
    ).all()
    for row in rows:
        row.status, row.settled_at = status, now
    session.flush()


def _last_update_at(session: Session, incident: models.Incident) -> datetime:
    last = session.scalar(
        select(models.TimelineEntry.at)
        .where(models.TimelineEntry.incident_id == incident.id, models.TimelineEntry.kind == EntryKind.UPDATE.value)
        .order_by(models.TimelineEntry.at.desc())
        .limit(1)
    )
    return last or incident.declared_at


def _told_customers(session: Session, incident_id: int) -> bool:
    met = session.scalar(
        select(models.CommunicationReminder.id).where(
            models.CommunicationReminder.incident_id == incident_id,
            models.CommunicationReminder.kind == ReminderKind.CUSTOMER_NOTICE.value,
            models.CommunicationReminder.status == MET,
        )
    )
    return met is not None


# ---- what people see ---------------------------------------------------------------------------


def resolvable_from(reminders: Sequence[models.CommunicationReminder]) -> datetime | None:
    """When the monitoring window of an incident in monitoring ends (None outside monitoring)."""
    windows = [r.due_at for r in reminders if r.kind == ReminderKind.MONITORING.value and r.status in (PENDING, DONE)]
    return max(windows) if windows else None


def owed_at(reminders: Sequence[models.CommunicationReminder], kind: ReminderKind) -> datetime | None:
    """When the update (or customer notice) still owed was due; None when nothing is owed."""
    owed = [r.owed_at for r in reminders if r.kind == kind.value and r.status in (PENDING, PAGED)]
    return min(owed) if owed else None


# ---- the engine --------------------------------------------------------------------------------


def process_due(session: Session, now: datetime, limit: int = 100, base_url: str = "") -> int:
    """Climb one rung of every due reminder this process wins; returns how many."""
    done = 0
    for reminder_id, stage in repo.due_ids(session, now, limit):
        reminder = session.get(models.CommunicationReminder, reminder_id, populate_existing=True)
        if reminder is None or reminder.status != PENDING or reminder.stage != stage:
            continue
        incident = session.get(models.Incident, reminder.incident_id)
        if incident is None:
            continue
        if incident.status in _CLOSED:  # closed without `status_changed` (an older server)
            reminder.status, reminder.settled_at = CANCELED, now
            continue
        if reminder.kind == ReminderKind.MONITORING.value:
            if repo.claim(session, reminder_id, stage, now, next_due=None, final=DONE, reminded_user_id=None):
                _window_passed(session, now, incident, base_url)
                done += 1
            continue
        holders = {role.role_key: role.user_id for role in incident.roles if role.released_at is None}
        step = rung(
            stage,
            now,
            communications=holders.get("communications"),
            commander=holders.get("commander"),
            reminded=reminder.reminded_user_id,
        )
        if step.action == Action.WAIT:
            # Nobody holds either role: look again later; the timeline says so the first time.
            first = reminder.due_at == reminder.owed_at
            if repo.snooze(session, reminder_id, stage, now, now + GRACE) and first:
                _nobody(session, now, incident, reminder)
                done += 1
            continue
        won = repo.claim(
            session, reminder_id, stage, now, next_due=step.next_due, final=PAGED, reminded_user_id=step.user_id
        )
        if not won:
            continue  # another process got there first, or the update was just posted
        session.refresh(reminder)
        if step.action == Action.REMIND and step.user_id is not None:
            _remind(session, now, incident, reminder, step.user_id, holders, base_url)
        else:
            _page(session, now, incident, reminder)
        done += 1
    session.flush()
    return done


def _nobody(session: Session, now: datetime, incident: models.Incident, reminder: models.CommunicationReminder) -> None:
    short, detail = _what(session, incident, reminder)
    timeline.add(
        session,
        incident,
        ENGINE,
        now,
        EntryKind.NOTE,
        f"{short}: {detail}; nobody holds the communications or commander role to remind: assign one",
        {"event": f"{reminder.kind}_overdue", "reminder": reminder.kind, "rung": reminder.stage, "user": None},
    )


def _what(session: Session, incident: models.Incident, reminder: models.CommunicationReminder) -> tuple[str, str]:
    """(short, long): what is owed, in the reminder's and the timeline's words."""
    level = severities.require_level(session, incident.severity)
    policy = level.policy
    if reminder.kind == ReminderKind.CUSTOMER_NOTICE.value:
        within = policy.customer_notice_within or timedelta(0)
        when = "at once" if not within else f"within {templates_domain.duration(within)} of the declaration"
        return (
            "Customer notice overdue",
            f"{incident.severity} expects customers to be told {when}: post a public update "
            f"(tocsin incident update {incident.human_id} --template customer_notice --public)",
        )
    every = templates_domain.duration(policy.update_every or timedelta(0))
    return (
        "Update overdue",
        f"{incident.severity} expects an update every {every}: post one "
        f"(tocsin incident update {incident.human_id} --template internal_update)",
    )


def _remind(
    session: Session,
    now: datetime,
    incident: models.Incident,
    reminder: models.CommunicationReminder,
    user_id: int,
    holders: dict[str, int],
    base_url: str,
) -> None:
    user = session.get(models.User, user_id)
    assert user is not None
    role = "communications lead" if holders.get("communications") == user_id else "commander"
    short, detail = _what(session, incident, reminder)
    methods = _notify(
        session,
        now,
        incident,
        user,
        f"reminder:{reminder.id}:{reminder.stage}",
        {
            "title": f"{short}: {incident.human_id} ({incident.severity})",
            "text": f"{incident.title}. {detail}.",
            "fields": [["Incident", incident.human_id], ["Severity", incident.severity], ["You are", role]],
            "incident": incident.human_id,
            "severity": incident.severity,
            **({"url": f"{base_url.rstrip('/')}/incidents/{incident.human_id}"} if base_url else {}),
        },
    )
    reached = f"reminded {user.name} ({role})" if methods else f"{user.name} ({role}) has no contact method to remind"
    timeline.add(
        session,
        incident,
        ENGINE,
        now,
        EntryKind.NOTE,
        f"{short}: {detail}; {reached}",
        {
            "event": f"{reminder.kind}_overdue",
            "reminder": reminder.kind,
            "rung": reminder.stage,
            "user": user.email,
            "role": role,
            "notifications": methods,
        },
    )


def _page(session: Session, now: datetime, incident: models.Incident, reminder: models.CommunicationReminder) -> None:
    short, detail = _what(session, incident, reminder)
    escalation = escalations.for_incident(session, incident.id)
    policy = (
        session.get(models.EscalationPolicy, escalation.policy_id)
        if escalation is not None and escalation.policy_id is not None
        else None
    )
    if escalation is None or policy is None:
        outcome = "nobody to page: the incident has no escalation policy"
    elif escalation.status == escalations.ACTIVE:
        # Nobody has answered its pages yet: they go on as planned; hurrying them would skip a level.
        outcome = f"{policy.name} is already paging"
    else:
        escalations.reescalate(session, incident, now)
        outcome = f"paging through {policy.name} from its first level"
    why = "the reminders went unanswered"
    timeline.add(
        session,
        incident,
        ENGINE,
        now,
        EntryKind.NOTE,
        f"{short}: {detail}; {why}, {outcome}",
        {"event": f"{reminder.kind}_escalated", "reminder": reminder.kind, "rung": reminder.stage},
    )


def _window_passed(session: Session, now: datetime, incident: models.Incident, base_url: str) -> None:
    level = severities.require_level(session, incident.severity)
    watched = templates_domain.duration(level.policy.watch_after_fix or timedelta(0))
    commander = next(
        (role.user for role in incident.roles if role.role_key == "commander" and role.released_at is None), None
    )
    told: list[int] = []
    if commander is not None:
        told = _notify(
            session,
            now,
            incident,
            commander,
            f"resolvable:{incident.id}:{int(now.timestamp())}",
            {
                "title": f"Ready to resolve: {incident.human_id} ({incident.severity})",
                "text": f"{incident.title}: monitored for {watched} since the fix with no new alert; "
                f"resolve it when you are satisfied (tocsin incident resolve {incident.human_id}).",
                "fields": [["Incident", incident.human_id], ["Monitored", watched]],
                "incident": incident.human_id,
                "severity": incident.severity,
                **({"url": f"{base_url.rstrip('/')}/incidents/{incident.human_id}"} if base_url else {}),
            },
        )
    summary = f"Monitoring window passed: {watched} since the fix; {incident.human_id} may be resolved"
    if commander is not None:
        summary += f" (told {commander.name})"
    timeline.add(
        session,
        incident,
        ENGINE,
        now,
        EntryKind.NOTE,
        summary,
        {
            "event": "monitoring_window_passed",
            "watched_s": int((level.policy.watch_after_fix or timedelta(0)).total_seconds()),
            "notifications": told,
        },
    )


def _notify(
    session: Session, now: datetime, incident: models.Incident, user: models.User, key: str, payload: dict[str, object]
) -> list[int]:
    """A `reminder` row per verified contact method of `user`, in the order of their rules; ids."""
    made = (
        notifications.owe_once(
            session,
            now,
            key=f"{key}:{user.id}:{method.id}",
            kind="reminder",
            user_id=user.id,
            method=method,
            payload=payload,
            incident_id=incident.id,
        )
        for method in notifications.reachable_methods(session, user.id)
    )
    return [row_id for row_id in made if row_id is not None]
