"""Action items: what an incident taught, owned, prioritized, due, reminded about and,
when GitHub sync is on, mirrored as GitHub issues.

Everything owed later is a row: `action_item_reminders` (due soon, overdue,
escalation; `send_due_reminders` turns a due one into notification rows for the
owner's or the commander's contact methods) and `action_item_syncs` (a GitHub call:
`claim_syncs` hands it to the engine module, which calls GitHub with no transaction
open, and `record_sync` keeps the answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tocsin.domain import action_items as domain
from tocsin.domain.action_items import FINISHED, ActionItemStatus, ReminderKind
from tocsin.domain.timeline import EntryKind
from tocsin.errors import InvalidTransition, NotFound, ValidationFailed
from tocsin.services import incidents, notifications, timeline
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import incidents as incidents_repo
from tocsin.storage.repositories import postmortems as repo

MAX_TITLE = 300
MAX_SYNC_ATTEMPTS = 8
# A close waits for its issue to be created first; it looks again this much later.
CLOSE_WAITS = timedelta(minutes=1)


def get(session: Session, ref: str | int) -> models.ActionItem:
    text = str(ref).strip().lstrip("#")
    item = repo.action_item(session, int(text)) if text.isascii() and text.isdigit() and len(text) <= 18 else None
    if item is None:
        raise NotFound(f"no action item {ref!r}", field="action_item")
    return item


def _owner(session: Session, email: str | None) -> models.User | None:
    if not email:
        return None
    user = directory.user_by_email(session, email)
    if user is None or not user.active:
        raise ValidationFailed(f"unknown user {email!r}", field="owner")
    return user


def _priority(priority: str) -> str:
    priority = priority.strip().upper()
    problem = domain.priority_problem(priority)
    if problem:
        raise ValidationFailed(problem, field="priority")
    return priority


def _title(title: str) -> str:
    title = title.strip()
    if not title:
        raise ValidationFailed("an action item needs a title", field="title")
    if len(title) > MAX_TITLE:
        raise ValidationFailed(f"a title is at most {MAX_TITLE} characters", field="title")
    return title


MAX_DUE_DISTANCE = timedelta(days=5 * 366)


def _due(due_at: datetime, now: datetime) -> datetime:
    if due_at.tzinfo is None:
        raise ValidationFailed("a due date needs a time zone (e.g. 2026-12-24T12:00:00Z)", field="due_at")
    if abs(due_at - now) > MAX_DUE_DISTANCE:
        raise ValidationFailed("a due date is within five years of now", field="due_at")
    return due_at


def add(
    session: Session,
    actor: Actor,
    now: datetime,
    incident_ref: str,
    *,
    title: str,
    priority: str,
    owner: str | None = None,
    due_at: datetime | None = None,
    description: str = "",
    sync: bool = False,
) -> models.ActionItem:
    """A new open item, due by its priority unless `due_at` says otherwise; `sync` (GitHub sync
    is configured) owes a GitHub issue for it."""
    incident = incidents.get(session, incident_ref)
    priority = _priority(priority)
    if due_at is not None:
        due_at = _due(due_at, now)
    postmortem = repo.postmortem_of(session, incident.id)
    item = models.ActionItem(
        incident_id=incident.id,
        postmortem_id=postmortem.id if postmortem is not None else None,
        title=_title(title),
        description=description,
        owner=_owner(session, owner),
        priority=priority,
        status=ActionItemStatus.OPEN.value,
        due_at=due_at or domain.default_due(priority, now),
        created_at=now,
        updated_at=now,
        created_by_id=actor.user_id,
        github_issue_url="",
    )
    session.add(item)
    session.flush()
    _plan_reminders(session, item, now)
    if sync:
        session.add(
            models.ActionItemSync(
                action_item_id=item.id,
                operation="create",
                status="pending",
                due_at=now,
                attempts=0,
                last_error="",
                created_at=now,
            )
        )
    who = item.owner.name if item.owner is not None else "no owner"
    timeline.add(
        session,
        incident,
        actor,
        now,
        EntryKind.ACTION_ITEM,
        f"Action item #{item.id} added ({priority}, {who}, due {item.due_at:%Y-%m-%d}): {item.title}",
        {"event": "added", "action_item": item.id, "priority": priority},
    )
    session.flush()
    return item


def edit(
    session: Session,
    actor: Actor,
    now: datetime,
    item: models.ActionItem,
    *,
    title: str | None = None,
    description: str | None = None,
    owner: str | None = None,
    priority: str | None = None,
    due_at: datetime | None = None,
) -> models.ActionItem:
    """Change what is given; a new priority without a new due date moves the due date to the
    new priority's default from when the item was made."""
    replan = False
    if title is not None:
        item.title = _title(title)
    if description is not None:
        item.description = description
    if owner is not None:
        item.owner = _owner(session, owner) if owner else None
    if priority is not None and _priority(priority) != item.priority:
        item.priority = _priority(priority)
        if due_at is None:
            item.due_at = domain.default_due(item.priority, item.created_at)
        replan = True
    if due_at is not None:
        due_at = _due(due_at, now)
        replan = replan or due_at != item.due_at
        item.due_at = due_at
    item.updated_at = now
    if replan and ActionItemStatus(item.status) not in FINISHED:
        _plan_reminders(session, item, now)
    session.flush()
    return item


def change_status(
    session: Session, actor: Actor, now: datetime, item: models.ActionItem, status: str
) -> models.ActionItem:
    try:
        target = ActionItemStatus(status)
    except ValueError:
        allowed = ", ".join(s.value for s in ActionItemStatus)
        raise ValidationFailed(f"unknown status {status!r}; expected one of {allowed}", field="status") from None
    current = ActionItemStatus(item.status)
    reason = domain.transition_error(current, target)
    if reason is not None:
        raise InvalidTransition(f"#{item.id}: {reason}", field="status")
    item.status = target.value
    item.updated_at = now
    if target in FINISHED:
        item.completed_at = now
        _cancel_reminders(session, item)
        _owe_close(session, item, now)
        label = "done" if target == ActionItemStatus.DONE else "won't do"
        timeline.add(
            session,
            item.incident,
            actor,
            now,
            EntryKind.ACTION_ITEM,
            f"Action item #{item.id} {label}: {item.title}",
            {"event": target.value, "action_item": item.id},
        )
    elif current in FINISHED:  # reopened: owed again, reminded again
        item.completed_at = None
        _plan_reminders(session, item, now)
    session.flush()
    return item


def list_items(
    session: Session,
    now: datetime,
    *,
    incident: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    overdue: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> tuple[Sequence[models.ActionItem], int]:
    """`status`: open (not finished, the default), all, or statuses separated by commas."""
    statuses: frozenset[str] | None
    if status in (None, "open"):
        statuses = frozenset(s.value for s in ActionItemStatus if s not in FINISHED)
    elif status == "all":
        statuses = None
    else:
        statuses = frozenset(part.strip() for part in status.split(",") if part.strip())
        unknown = statuses - {s.value for s in ActionItemStatus}
        if unknown:
            raise ValidationFailed(
                f"unknown status {sorted(unknown)[0]!r}; use open, all or statuses separated by commas", field="status"
            )
    filters = repo.ItemFilter(
        incident_id=incidents.get(session, incident).id if incident else None,
        owner_id=_owner(session, owner).id if owner else None,  # type: ignore[union-attr]
        statuses=statuses,
        overdue_at=now if overdue else None,
    )
    return repo.list_action_items(session, filters, limit=limit, offset=offset)


def is_overdue(item: models.ActionItem, now: datetime) -> bool:
    return domain.is_overdue(ActionItemStatus(item.status), item.due_at, now)


# ---- reminders --------------------------------------------------------------------------------


def _plan_reminders(session: Session, item: models.ActionItem, now: datetime) -> None:
    """One row per kind the plan wants, due when it says and pending again; other kinds canceled."""
    wanted = {r.kind.value: r.due_at for r in domain.reminders(item.priority, item.due_at, now)}
    existing = {r.kind: r for r in repo.reminders_of(session, item.id)}
    for kind in ReminderKind:
        row = existing.get(kind.value)
        if kind.value in wanted:
            if row is None:
                session.add(
                    models.ActionItemReminder(
                        action_item_id=item.id, kind=kind.value, due_at=wanted[kind.value], status="pending"
                    )
                )
            else:
                row.due_at, row.status, row.sent_at = wanted[kind.value], "pending", None
        elif row is not None and row.status == "pending":
            row.status = "canceled"


def _cancel_reminders(session: Session, item: models.ActionItem) -> None:
    session.execute(
        update(models.ActionItemReminder)
        .where(models.ActionItemReminder.action_item_id == item.id, models.ActionItemReminder.status == "pending")
        .values(status="canceled")
        .execution_options(synchronize_session=False)
    )


_R = models.ActionItemReminder


def send_due_reminders(session: Session, now: datetime, batch: int = 100, public_url: str = "") -> int:
    """Turn due reminder rows into notification rows; returns how many reminders were handled.

    A row is claimed by a conditional UPDATE (pending → sent) whose row count says whether
    this process won it; on PostgreSQL the SELECT skips rows another process has locked.
    The notifications' keys name the reminder and its due time, so nothing is said twice."""
    query = select(_R.id).where(_R.status == "pending", _R.due_at <= now).order_by(_R.due_at, _R.id).limit(batch)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    handled = 0
    for reminder_id in session.scalars(query).all():
        won = session.execute(
            update(_R)
            .where(_R.id == reminder_id, _R.status == "pending")
            .values(status="sent", sent_at=now)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another process got there first
        reminder = session.get(_R, reminder_id)
        assert reminder is not None
        session.refresh(reminder)
        item = repo.action_item(session, reminder.action_item_id)
        if item is None or ActionItemStatus(item.status) in FINISHED:
            reminder.status = "canceled"
            continue
        _remind(session, item, reminder, now, public_url)
        handled += 1
    session.flush()
    return handled


def _remind(
    session: Session, item: models.ActionItem, reminder: models.ActionItemReminder, now: datetime, public_url: str
) -> None:
    incident = item.incident
    kind = ReminderKind(reminder.kind)
    owner = item.owner.name if item.owner is not None else "nobody"
    due = f"{item.due_at:%Y-%m-%d %H:%M} UTC"
    if kind == ReminderKind.ESCALATION:
        holder = incidents_repo.current_role_holder(session, incident.id, "commander")
        recipient = holder.user if holder is not None else None
        title = f"Overdue {item.priority} action item of {incident.human_id}"
        text = f"#{item.id} {item.title!r} ({owner}) was due {due} and is still {item.status.replace('_', ' ')}."
    else:
        recipient = item.owner
        if kind == ReminderKind.DUE_SOON:
            title = f"Action item due soon: {item.title}"
            text = f"Your {item.priority} action item #{item.id} of {incident.human_id} is due {due}."
        else:
            title = f"Action item overdue: {item.title}"
            text = f"Your {item.priority} action item #{item.id} of {incident.human_id} was due {due}."
    if recipient is None:
        return
    payload: dict[str, object] = {
        "title": title,
        "text": text,
        "fields": [["Incident", f"{incident.human_id}: {incident.title}"], ["Owner", owner], ["Due", due]],
        "incident": incident.human_id,
        "action_item": item.id,
    }
    if public_url:
        payload["url"] = f"{public_url.rstrip('/')}/action-items?incident={incident.human_id}"
    at = int(reminder.due_at.timestamp())
    for method in notifications.reachable_methods(session, recipient.id):
        notifications.owe_once(
            session,
            now,
            key=f"action-item:{item.id}:{kind.value}:{at}:{recipient.id}:{method.id}",
            kind="reminder",  # a MessageKind the channels render
            user_id=recipient.id,
            method=method,
            payload=payload,
            # No incident_id: resolving or acknowledging an incident cancels its pending pages,
            # and a reminder about follow-up work is not a page.
            step=kind.value,
        )


# ---- GitHub sync ------------------------------------------------------------------------------


def _owe_close(session: Session, item: models.ActionItem, now: datetime) -> None:
    if repo.sync_of(session, item.id, "create") is None:
        return  # never mirrored
    close = repo.sync_of(session, item.id, "close")
    if close is None:
        session.add(
            models.ActionItemSync(
                action_item_id=item.id,
                operation="close",
                status="pending",
                due_at=now,
                attempts=0,
                last_error="",
                created_at=now,
            )
        )
    elif close.status in ("done", "failed"):
        close.status, close.due_at, close.attempts, close.last_error, close.done_at = "pending", now, 0, "", None


@dataclass(frozen=True)
class ClaimedSync:
    id: int
    attempts: int  # including this one
    operation: str  # create / close
    item_id: int
    title: str
    body: str
    issue_number: int | None


@dataclass(frozen=True)
class SyncResult:
    outcome: str  # ok / retry / permanent (channels.result.Outcome values)
    error: str = ""
    issue_number: int | None = None
    issue_url: str = ""
    retry_at: datetime | None = None


_S = models.ActionItemSync


def claim_syncs(
    session: Session, now: datetime, batch: int, lease: timedelta, public_url: str = ""
) -> list[ClaimedSync]:
    """Claim due GitHub calls (pending and due, or sending past a crashed sender's deadline)."""
    due = or_(
        (_S.status == "pending") & (_S.due_at <= now),
        (_S.status == "sending") & (_S.deadline <= now),
    )
    query = select(_S).where(due).order_by(_S.due_at, _S.id).limit(batch)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed: list[ClaimedSync] = []
    for row in session.scalars(query).all():
        item = repo.action_item(session, row.action_item_id)
        assert item is not None  # the sync row goes with its item
        if row.operation == "close" and item.github_issue_number is None:
            create = repo.sync_of(session, item.id, "create")
            if create is None or create.status == "failed":
                _finish(row, "failed", now, "the GitHub issue was never created")
            else:
                row.due_at = now + CLOSE_WAITS
            continue
        won = session.execute(
            update(_S)
            .where(_S.id == row.id, _S.status == row.status, _S.attempts == row.attempts)
            .values(status="sending", deadline=now + lease, attempts=row.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue
        claimed.append(
            ClaimedSync(
                id=row.id,
                attempts=row.attempts + 1,
                operation=row.operation,
                item_id=item.id,
                title=f"[{item.priority}] {item.title}",
                body=_issue_body(item, public_url),
                issue_number=item.github_issue_number,
            )
        )
    session.flush()
    return claimed


def _issue_body(item: models.ActionItem, public_url: str) -> str:
    incident = item.incident
    lines = [
        item.description.strip() or "_No description._",
        "",
        f"Action item #{item.id} of incident {incident.human_id} ({incident.severity}): {incident.title}",
        f"Owner: {item.owner.name if item.owner is not None else 'nobody yet'} · Due: {item.due_at:%Y-%m-%d}",
    ]
    if public_url:
        lines.append(f"{public_url.rstrip('/')}/incidents/{incident.human_id}")
    return "\n".join(lines) + "\n\n_Opened by Tocsin; it closes this issue when the action item is done._\n"


def _finish(row: models.ActionItemSync, status: str, now: datetime, error: str = "") -> None:
    row.status, row.deadline, row.last_error = status, None, error
    if status == "done":
        row.done_at = now


def record_sync(session: Session, now: datetime, sync_id: int, attempt: int, result: SyncResult) -> str | None:
    """Keep a call's answer; None when the row is no longer this attempt's (its lease ran out)."""
    row = session.get(_S, sync_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if row is None or row.status != "sending" or row.attempts != attempt:
        return None
    if result.outcome == "ok":
        _finish(row, "done", now)
        if row.operation == "create":
            item = session.get(models.ActionItem, row.action_item_id)
            assert item is not None
            item.github_issue_number, item.github_issue_url = result.issue_number, result.issue_url
    elif result.outcome == "retry" and attempt < MAX_SYNC_ATTEMPTS and result.retry_at is not None:
        row.status, row.deadline, row.last_error, row.due_at = "pending", None, result.error, result.retry_at
    else:
        _finish(row, "failed", now, result.error)
    session.flush()
    return row.status
