"""Escalations: from a declared incident to notification rows, until someone answers.

`domain.escalation.plan` gives an incident's timetable; the incident's
`escalations` row remembers how far along it is (`next_step`, an index into
that timetable, and `next_due_at`), so a restart continues where it was. Each
due step becomes `notifications` rows — one per contact method of each person
paged, at the delays of their notification rules — which the deliveries
module sends.

The rule that matters most: a page never goes out after an acknowledgement.
`stop()` runs in the transaction that acknowledges, resolves or cancels. It
locks the escalation row first, so an engine cycle that is paging the incident
at that moment commits before it, and the rows that cycle made are canceled
with the rest by the UPDATE that follows (on PostgreSQL each statement sees
what was committed before it started; on SQLite writers are serialized).

Two processes page each step once: `due()` selects with `FOR UPDATE SKIP
LOCKED` on PostgreSQL and claims each escalation with an UPDATE guarded on
`next_step`; rows carry an idempotency key (timetable start, round, level,
user, contact method) and are inserted with ON CONFLICT DO NOTHING, so a
replayed step inserts nothing.

The queries live here rather than in `storage.repositories` only because this
change was limited to these files; they belong in a `repositories/escalations.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tocsin.domain import escalation as domain
from tocsin.domain import notify
from tocsin.domain import schedules as schedule_rules
from tocsin.domain.incidents import IncidentStatus
from tocsin.domain.timeline import EntryKind
from tocsin.services import ack_links, contacts, policies, schedules, severities, timeline
from tocsin.services.actor import ENGINE, Actor
from tocsin.storage import models
from tocsin.storage.repositories import directory as directory_repo
from tocsin.storage.repositories import paging as paging_repo

ACTIVE = "active"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
EXHAUSTED = "exhausted"
RECORDED = "recorded"
# Stopping changes these; a recorded escalation never paged, an ended one stays as it ended.
_RUNNING = (ACTIVE, EXHAUSTED)

ACK_LINK_TTL = timedelta(hours=24)
_CHANNEL_LABELS = {"email": "e-mail"}


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
    # After the lock above: rows a concurrent engine cycle inserted for this incident are committed now.
    result = session.execute(
        update(models.Notification)
        .where(models.Notification.incident_id == incident.id, models.Notification.status == "pending")
        .values(status="canceled", deadline=None)
        .execution_options(synchronize_session=False)
    )
    canceled = int(result.rowcount)  # type: ignore[attr-defined]
    if was_running or canceled:
        pages = f"{canceled} pending page{'' if canceled == 1 else 's'} canceled"
        timeline.add(
            session,
            incident,
            actor,
            now,
            EntryKind.NOTE,
            f"Paging stopped: incident {status}; {pages}",
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
    table = _timetable(policies.to_domain(policy), escalation)
    if table is None:
        return False
    moved = domain.escalate_now(table, now)
    escalation.next_due_at, escalation.updated_at = moved.steps[escalation.next_step].due_at, now
    return True


def for_incident(session: Session, incident_id: int) -> models.Escalation | None:
    return session.scalar(select(models.Escalation).where(models.Escalation.incident_id == incident_id))


# ---- the engine's part -------------------------------------------------------------------------


def due(session: Session, now: datetime, batch: int, *, public_url: str) -> int:
    """Page every step that is due, for up to `batch` escalations; returns the steps paged.

    `public_url` is where people reach this server: the links in pages start with it.
    """
    query = (
        select(models.Escalation)
        .where(models.Escalation.status == ACTIVE, models.Escalation.next_due_at <= now)
        .order_by(models.Escalation.next_due_at, models.Escalation.id)
        .limit(batch)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    paged = 0
    for escalation in session.scalars(query).all():
        paged += _advance(session, escalation, now, public_url.rstrip("/"))
    session.flush()
    return paged


@dataclass
class _Page:
    """What one step did to one person."""

    user: models.User
    why: str  # "on call in primary", "in team platform", or ""
    channels: list[str] = field(default_factory=list)
    held_until: datetime | None = None
    unreachable: bool = False
    through_quiet_hours: bool = False


@dataclass
class _Step:
    step: domain.Step
    due_at: datetime
    pages: list[_Page] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # nobody on call, unknown target …
    rows: list[tuple[models.User, models.ContactMethod, datetime]] = field(default_factory=list)

    @property
    def reached_anyone(self) -> bool:
        return bool(self.rows)


def _advance(session: Session, escalation: models.Escalation, now: datetime, public_url: str) -> int:
    incident = session.get(models.Incident, escalation.incident_id)
    assert incident is not None  # the escalation row is deleted with its incident
    ended = _answered(incident, escalation.started_at)
    if ended is not None:
        # Stopped without `stop()` (a status set before this module existed): end it, page nobody.
        _claim(session, escalation, now, next_step=escalation.next_step, next_due_at=None, status=ended)
        return 0
    policy = session.get(models.EscalationPolicy, escalation.policy_id) if escalation.policy_id else None
    table = _timetable(policies.to_domain(policy), escalation) if policy is not None else None
    if policy is None or table is None:
        # The policy was deleted, or edited down to fewer steps than were already paged.
        if _claim(session, escalation, now, next_step=escalation.next_step, next_due_at=None, status=EXHAUSTED):
            _exhausted(session, incident, now, policy.name if policy else "its escalation policy")
        return 0

    emergency = _is_emergency(session, escalation.severity)
    steps: list[_Step] = []
    index = escalation.next_step
    while index < len(table.steps) and table.steps[index].due_at <= now:
        step = table.steps[index]
        done = _resolve(session, step, emergency)
        steps.append(done)
        if not done.reached_anyone:
            # Everyone at this level is in quiet hours or unreachable: the next level
            # gets the page now instead of after this level's delay.
            table = domain.escalate_past(table, step, now)
        index += 1
    next_due = table.steps[index].due_at if index < len(table.steps) else None
    status = ACTIVE if next_due is not None else EXHAUSTED
    if not _claim(session, escalation, now, next_step=index, next_due_at=next_due, status=status):
        return 0  # another process paged these steps first

    for done in steps:
        inserted = _insert_pages(session, incident, escalation, policy, done, now, public_url)
        if done.rows and not inserted:
            continue  # a replay of a step whose pages exist: said on the timeline already
        timeline.add(
            session, incident, ENGINE, now, EntryKind.NOTE, _summary(done, policy, len(policy.levels)), _data(done)
        )
    if status == EXHAUSTED:
        _exhausted(session, incident, now, policy.name)
    return len(steps)


def _claim(
    session: Session,
    escalation: models.Escalation,
    now: datetime,
    *,
    next_step: int,
    next_due_at: datetime | None,
    status: str,
) -> bool:
    # The guard on next_step is the claim: of two processes that read the same row, the
    # second updates nothing (PostgreSQL re-checks the condition after the first commits).
    result = session.execute(
        update(models.Escalation)
        .where(
            models.Escalation.id == escalation.id,
            models.Escalation.status == ACTIVE,
            models.Escalation.next_step == escalation.next_step,
        )
        .values(next_step=next_step, next_due_at=next_due_at, status=status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _timetable(policy: domain.Policy, escalation: models.Escalation) -> domain.Plan | None:
    """The plan as it stands: steps from `next_step` on moved up by however much escalate_now
    or escalate_past pulled the next one forward; None when `next_step` is past its end."""
    plan = domain.plan(policy, escalation.severity, escalation.started_at)
    if escalation.next_step >= len(plan.steps) or escalation.next_due_at is None:
        return None
    shift = plan.steps[escalation.next_step].due_at - escalation.next_due_at
    head, tail = plan.steps[: escalation.next_step], plan.steps[escalation.next_step :]
    return replace(plan, steps=head + tuple(replace(s, due_at=s.due_at - shift) for s in tail))


def _answered(incident: models.Incident, started_at: datetime) -> str | None:
    if incident.status == IncidentStatus.CANCELED or incident.resolved_at is not None:
        return RESOLVED
    # An acknowledgement before `started_at` belongs to an earlier timetable (before a reopen).
    if incident.acknowledged_at is not None and incident.acknowledged_at >= started_at:
        return ACKNOWLEDGED
    return None


def _is_emergency(session: Session, severity: str) -> bool:
    # Neither severities nor services carry an "emergency" flag yet; until one exists the most
    # severe level of the scheme (rank 0: P0, SEV1) is the emergency that pages through quiet hours.
    level = severities.active(session).level(severity)
    return level is not None and level.rank == 0


# ---- one step: targets → people → contact methods ---------------------------------------------


def _resolve(session: Session, step: domain.Step, emergency: bool) -> _Step:
    done = _Step(step, step.due_at)
    seen: set[int] = set()
    for target in step.targets:
        for user, why in _people(session, target, step.due_at, done.notes):
            if user.id in seen:
                continue  # named twice at one level (a schedule and a team): one page
            seen.add(user.id)
            done.pages.append(_decide(session, user, why, step.due_at, emergency, done))
    return done


def _people(session: Session, target: domain.Target, at: datetime, notes: list[str]) -> list[tuple[models.User, str]]:
    if target.kind == domain.TargetKind.USER:
        user = paging_repo.users_by_emails(session, [target.key]).get(target.key.lower())
        if user is None or not user.active:
            notes.append(f"user {target.key} is gone")
            return []
        return [(user, "")]
    if target.kind == domain.TargetKind.SCHEDULE:
        schedule = paging_repo.schedule_by_key(session, target.key)
        if schedule is None:
            notes.append(f"schedule {target.key} is gone")
            return []
        on_call = schedule_rules.on_call_at(schedules.to_domain(schedule), at)
        user = paging_repo.users_by_emails(session, [on_call.user]).get(on_call.user.lower()) if on_call else None
        if user is None or not user.active:
            notes.append(f"nobody on call in {target.key}")
            return []
        return [(user, f"on call in {target.key}")]
    team = directory_repo.team_by_key(session, target.key)
    if team is None:
        notes.append(f"team {target.key} is gone")
        return []
    members = [member.user for member in team.members if member.user.active]
    if not members:
        notes.append(f"team {target.key} has no members")
    return [(user, f"in team {target.key}") for user in members]


def _decide(session: Session, user: models.User, why: str, page_at: datetime, emergency: bool, done: _Step) -> _Page:
    methods = paging_repo.contact_methods_of(session, user.id)
    quiet = paging_repo.quiet_hours_of(session, user.id)
    decision = notify.deliveries(
        [contacts.rule_to_domain(rule) for rule in paging_repo.rules_of(session, user.id)],
        [contacts.method_to_domain(method) for method in methods],
        page_at,
        # Incidents have no urgency of their own yet; a page from an escalation is meant to wake.
        notify.Urgency.HIGH,
        emergency=emergency,
        quiet=contacts.quiet_to_domain(quiet) if quiet is not None else None,
        tz=_zone(user.time_zone),
    )
    page = _Page(user, why, through_quiet_hours=decision.quiet_hours_ignored)
    if decision.outcome == notify.Outcome.HELD_BY_QUIET_HOURS:
        page.held_until = decision.held_until
    elif decision.outcome == notify.Outcome.UNREACHABLE:
        page.unreachable = True
    by_name = {method.name: method for method in methods}
    for delivery in decision.deliveries:
        method = by_name[delivery.method.key]
        done.rows.append((user, method, delivery.due_at))
        if method.kind not in page.channels:
            page.channels.append(method.kind)
    return page


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# ---- writing what a step did ------------------------------------------------------------------


def page_key(escalation: models.Escalation, step: domain.Step, user_id: int, method_id: int) -> str:
    """The same page planned twice (a replayed cycle, a second process) has the same key.
    `started_at` tells a reopened incident's new timetable from the old one."""
    started = int(escalation.started_at.timestamp())
    return f"page:{escalation.incident_id}:{started}:{step.round}:{step.level}:{user_id}:{method_id}"


def _insert_pages(
    session: Session,
    incident: models.Incident,
    escalation: models.Escalation,
    policy: models.EscalationPolicy,
    done: _Step,
    now: datetime,
    public_url: str,
) -> int:
    """Insert the step's rows (and one acknowledge link per person paged); returns how many are new."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    by_user: dict[int, list[tuple[models.ContactMethod, datetime]]] = {}
    users: dict[int, models.User] = {}
    for user, method, due_at in done.rows:
        by_user.setdefault(user.id, []).append((method, due_at))
        users[user.id] = user
    why = {page.user.id: page.why for page in done.pages}
    level = f"level {done.step.level + 1} of {policy.name}"
    count = 0
    for user_id, deliveries in by_user.items():
        # The link's secret has to travel in the page; only its hash is in `ack_links`.
        token = ack_links.new_token()
        payload = _payload(incident, level, why[user_id], public_url, token)
        inserted = False
        for method, due_at in deliveries:
            row = session.execute(
                insert(models.Notification)
                .values(
                    idempotency_key=page_key(escalation, done.step, user_id, method.id),
                    incident_id=incident.id,
                    escalation_id=escalation.id,
                    user_id=user_id,
                    contact_method_id=method.id,
                    kind="page",
                    channel=method.kind,
                    step=f"round {done.step.round + 1}, level {done.step.level + 1}",
                    status="pending",
                    due_at=due_at,
                    attempts=0,
                    last_error="",
                    payload=payload,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=[models.Notification.idempotency_key])
                .returning(models.Notification.id)
            ).first()
            inserted = inserted or row is not None
            count += row is not None
        if inserted:
            ack_links.store(session, token, incident, users[user_id], now, ACK_LINK_TTL)
    return count


def _payload(incident: models.Incident, level: str, why: str, public_url: str, token: str) -> dict[str, object]:
    services = ", ".join(service.key for service in incident.services)
    fields = [["Severity", incident.severity], ["Status", incident.status], ["Escalation", level]]
    if services:
        fields.insert(1, ["Service", services])
    if why:
        fields.append(["Paged because", f"you are {why}"])
    return {
        "title": incident.title,
        "text": f"{incident.severity} incident {incident.human_id}" + (f" on {services}" if services else ""),
        "severity": incident.severity,
        "incident": incident.human_id,
        "url": f"{public_url}/api/v1/incidents/{incident.human_id}",
        "ack_url": f"{public_url}/ack/{token}",
        "fields": fields,
    }


def _summary(done: _Step, policy: models.EscalationPolicy, levels: int) -> str:
    paged, held = [], []
    for page in done.pages:
        who = _short(page.user) + (f" ({page.why})" if page.why else "")
        if page.channels:
            through = ", through quiet hours" if page.through_quiet_hours else ""
            paged.append(f"{who} via {', '.join(_label(c) for c in page.channels)}{through}")
        elif page.held_until is not None:
            held.append(f"{who} held by quiet hours until {page.held_until.astimezone(UTC):%H:%M} UTC")
        else:
            held.append(f"{who} has no usable contact method")
    parts = ["Paged " + " and ".join(paged) if paged else "Paged nobody"]
    parts += held + done.notes
    where = f"level {done.step.level + 1} of {levels} in {policy.name}"
    if done.step.round:
        where += f", round {done.step.round + 1}"
    return f"{'; '.join(parts)} ({where})"


def _data(done: _Step) -> dict[str, object]:
    return {
        "event": "page",
        "round": done.step.round,
        "level": done.step.level,
        "due_at": done.due_at.isoformat(),
        "paged": [{"user": p.user.email, "channels": p.channels} for p in done.pages if p.channels],
        "held": [
            {
                "user": p.user.email,
                "until": p.held_until.isoformat() if p.held_until else None,
                "unreachable": p.unreachable,
            }
            for p in done.pages
            if not p.channels
        ],
        "notes": done.notes,
    }


def _exhausted(session: Session, incident: models.Incident, now: datetime, policy_name: str) -> None:
    summary = f"Escalation exhausted: every level of {policy_name} was paged and nobody acknowledged"
    timeline.add(session, incident, ENGINE, now, EntryKind.NOTE, summary, {"event": "escalation_exhausted"})


def _short(user: models.User) -> str:
    return user.email.partition("@")[0]


def _label(channel: str) -> str:
    return _CHANNEL_LABELS.get(channel, channel)


# ---- queries ------------------------------------------------------------------------------------


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
