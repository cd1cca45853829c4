"""Notification delivery bookkeeping: claim due rows, record each attempt's result.

A row moves `pending → sending (deadline) → sent | failed`, or back to
`pending` with a later `due_at` after an attempt that may work later. The
engine's deliveries module claims a batch and commits, sends with no
transaction open, then records the results in a second short transaction;
nothing here talks to the network.

Two processes never claim one row: the claim is a conditional UPDATE that
re-checks the status (PostgreSQL re-evaluates it against a row another
transaction just committed), after a `FOR UPDATE SKIP LOCKED` select so they
do not queue behind each other's rows. A sender that crashed leaves its rows
in `sending`; once their deadline passes, another sender claims them again.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from tocsin.domain.access import Scope
from tocsin.domain.incidents import IncidentStatus
from tocsin.domain.timeline import EntryKind
from tocsin.errors import Forbidden, ValidationFailed
from tocsin.services import directory, timeline
from tocsin.services.actor import ENGINE, Actor
from tocsin.storage import models
from tocsin.storage.repositories import paging as paging_repo

MAX_ATTEMPTS = 5
STATUSES = ("pending", "sending", "sent", "failed", "canceled")
# The idempotency key travels in HTTP and mail headers (channels.message._KEY_RE).
_KEY_LIMIT = 200
_KIND_LABELS = {"email": "e-mail"}


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to, in the engine's words (`channels.DeliveryResult`, which
    this layer does not import). `retry_at` is when to try again if a retry can help:
    the engine computes it with the channels' backoff, honouring a Retry-After."""

    outcome: str  # ok / retry / permanent
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Claimed:
    """One claimed row, as plain data: the sender works on it with no session open.

    `address` and `mention` are the contact method's current ones, so a
    corrected webhook URL is used by the next attempt. `attempts` counts this
    one and guards `record`: a result for an attempt that is no longer the
    row's latest changes nothing.
    """

    id: int
    idempotency_key: str
    kind: str
    channel: str
    address: str
    mention: str | None
    secret: str | None
    payload: dict[str, Any]
    attempts: int


def claim_due(session: Session, now: datetime, batch: int, lease: timedelta) -> list[Claimed]:
    due = or_(
        and_(models.Notification.status == "pending", models.Notification.due_at <= now),
        and_(models.Notification.status == "sending", models.Notification.deadline <= now),
    )
    query = (
        select(models.Notification.id)
        .where(due)
        .order_by(models.Notification.due_at, models.Notification.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    # The WHERE repeats the due condition: if another process claimed a row between the
    # select and here, PostgreSQL re-checks it against that commit and skips the row.
    rows = session.execute(
        update(models.Notification)
        .where(models.Notification.id.in_(ids), due)
        .values(status="sending", deadline=now + lease, attempts=models.Notification.attempts + 1)
        .returning(
            models.Notification.id,
            models.Notification.idempotency_key,
            models.Notification.kind,
            models.Notification.channel,
            models.Notification.contact_method_id,
            models.Notification.payload,
            models.Notification.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    method_ids = {row.contact_method_id for row in rows if row.contact_method_id is not None}
    methods = {
        method.id: method
        for method in session.scalars(select(models.ContactMethod).where(models.ContactMethod.id.in_(method_ids)))
    }
    position = {notification_id: n for n, notification_id in enumerate(ids)}
    claimed: list[Claimed] = []
    for row in sorted(rows, key=lambda r: position[r.id]):
        method = methods.get(row.contact_method_id) if row.contact_method_id is not None else None
        if method is None:
            _finish_failed(session, now, row.id, row.attempts, "the contact method was removed")
            continue
        claimed.append(
            Claimed(
                id=row.id,
                idempotency_key=row.idempotency_key,
                kind=row.kind,
                channel=method.kind,
                address=method.address,
                mention=method.mention,
                secret=None,  # contact methods have no signing secret yet
                payload=dict(row.payload or {}),
                attempts=row.attempts,
            )
        )
    session.flush()
    return claimed


def record(session: Session, now: datetime, notification_id: int, attempt: int, result: Attempt) -> str | None:
    """Store the result of attempt number `attempt`; returns the row's new status.

    None when the row is no longer ours: canceled meanwhile (an acknowledgement
    stops pages) or claimed again by another sender after our deadline passed.
    """
    if result.outcome == "ok":
        changed = _finish(session, notification_id, attempt, status="sent", sent_at=now, deadline=None, last_error="")
        if changed:
            # A test that reached its destination verifies the contact method (`tocsin notify test`):
            # escalations page only verified methods, and nothing else verifies one made by `tocsin apply`.
            tested = (
                select(models.Notification.contact_method_id)
                .where(models.Notification.id == notification_id, models.Notification.kind == "test")
                .scalar_subquery()
            )
            session.execute(
                update(models.ContactMethod)
                .where(models.ContactMethod.id == tested)
                .values(verified=True)
                .execution_options(synchronize_session=False)
            )
        return "sent" if changed else None
    error = result.error or "delivery failed"
    if result.outcome == "retry" and attempt < MAX_ATTEMPTS:
        due = result.retry_at or now
        changed = _finish(
            session, notification_id, attempt, status="pending", due_at=due, deadline=None, last_error=error
        )
        return "pending" if changed else None
    if result.outcome == "retry":
        error = f"{error} (gave up after {attempt} attempts)"
    return "failed" if _finish_failed(session, now, notification_id, attempt, error) else None


def _finish(session: Session, notification_id: int, attempt: int, **values: Any) -> bool:
    changed = session.execute(
        update(models.Notification)
        .where(
            models.Notification.id == notification_id,
            models.Notification.status == "sending",
            models.Notification.attempts == attempt,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


def _finish_failed(session: Session, now: datetime, notification_id: int, attempt: int, error: str) -> bool:
    if not _finish(session, notification_id, attempt, status="failed", deadline=None, last_error=error):
        return False
    failed = session.get(models.Notification, notification_id, populate_existing=True)
    assert failed is not None
    if failed.kind == "page":
        _fall_back(session, now, failed)
    session.flush()
    return True


def _fall_back(session: Session, now: datetime, failed: models.Notification) -> None:
    """Page the same user through their next contact method, and say so on the timeline."""
    incident = session.get(models.Incident, failed.incident_id) if failed.incident_id is not None else None
    user = session.get(models.User, failed.user_id) if failed.user_id is not None else None
    if user is None:
        return
    next_method = None
    # Once someone answered, there is nobody left to wake: the escalation stopped paging.
    if incident is None or not _answered(incident):
        next_method = _next_method(session, user.id, failed.contact_method_id)
    if next_method is not None:
        key = _derived_key(failed.idempotency_key, next_method.id)
        exists = session.scalar(select(models.Notification.id).where(models.Notification.idempotency_key == key))
        if exists is None:
            session.add(
                models.Notification(
                    idempotency_key=key,
                    incident_id=failed.incident_id,
                    escalation_id=failed.escalation_id,
                    user_id=failed.user_id,
                    contact_method_id=next_method.id,
                    kind=failed.kind,
                    channel=next_method.kind,
                    step=failed.step,
                    status="pending",
                    due_at=now,
                    attempts=0,
                    last_error="",
                    payload=dict(failed.payload or {}),
                    created_at=now,
                )
            )
    if incident is None:
        return
    who = user.email.partition("@")[0]
    then = f"trying {_label(next_method.kind)}" if next_method else "no other contact method to try"
    timeline.add(
        session,
        incident,
        ENGINE,
        now,
        # TODO(paging): a dedicated "page" entry kind once domain.timeline has one.
        EntryKind.NOTE,
        f"Page to {who} via {_label(failed.channel)} failed: {failed.last_error}; {then}",
        {
            "notification": failed.id,
            "user": user.email,
            "channel": failed.channel,
            "error": failed.last_error,
            "next_channel": next_method.kind if next_method else None,
        },
    )


def _answered(incident: models.Incident) -> bool:
    return incident.acknowledged_at is not None or incident.status in (
        IncidentStatus.RESOLVED,
        IncidentStatus.CANCELED,
    )


def _next_method(session: Session, user_id: int, current: int | None) -> models.ContactMethod | None:
    """The contact method after `current` in the order of the user's notification rules."""
    order: list[models.ContactMethod] = []
    for rule in paging_repo.rules_of(session, user_id):
        if rule.contact_method not in order:
            order.append(rule.contact_method)
    ids = [method.id for method in order]
    if current not in ids:
        return None
    position = ids.index(current)
    return order[position + 1] if position + 1 < len(order) else None


def _derived_key(key: str, method_id: int) -> str:
    derived = f"{key}/next-{method_id}"
    if len(derived) <= _KEY_LIMIT:
        return derived
    # Long chains of fall-backs: keep the key unique and within the header-safe length.
    return f"ntf-{hashlib.sha256(derived.encode()).hexdigest()}/next-{method_id}"


def _label(channel: str) -> str:
    return _KIND_LABELS.get(channel, channel)


# ---- test notifications and reading -----------------------------------------------------------


def send_test(session: Session, user: models.User, now: datetime) -> list[models.Notification]:
    """One `test` notification per contact method of `user`, due now (`tocsin notify test`)."""
    made: list[models.Notification] = []
    for method in paging_repo.contact_methods_of(session, user.id):
        notification = models.Notification(
            idempotency_key=f"test-{uuid.uuid4().hex}",
            user_id=user.id,
            contact_method_id=method.id,
            kind="test",
            channel=method.kind,
            step="",
            status="pending",
            due_at=now,
            attempts=0,
            last_error="",
            payload={
                "title": "Test notification",
                "text": f"Tocsin can reach {user.name} through the contact method {method.name!r}.",
                "fields": [["Contact method", method.name]],
            },
            created_at=now,
        )
        session.add(notification)
        made.append(notification)
    session.flush()
    return made


def send_test_to(session: Session, actor: Actor, now: datetime, user_email: str) -> list[models.Notification]:
    """Test notifications for one user: anyone may test their own contact methods, an admin anyone's."""
    user = directory.get_user(session, user_email)
    if actor.user_id != user.id and actor.scope is not Scope.ADMIN:
        raise Forbidden("only an admin can send test notifications to someone else's contact methods")
    made = send_test(session, user, now)
    if not made:
        raise ValidationFailed(f"{user.email} has no contact methods to test", field="user")
    return made


@dataclass(frozen=True)
class View:
    """A notification as people see it: who, through which contact method, what happened."""

    notification: models.Notification
    user: str | None  # e-mail
    contact_method: str | None  # name; None once the method is removed


def views(session: Session, rows: Sequence[models.Notification]) -> list[View]:
    user_ids = {row.user_id for row in rows if row.user_id is not None}
    method_ids = {row.contact_method_id for row in rows if row.contact_method_id is not None}
    users = {
        user_id: email
        for user_id, email in session.execute(
            select(models.User.id, models.User.email).where(models.User.id.in_(user_ids))
        )
    }
    methods = {
        method_id: name
        for method_id, name in session.execute(
            select(models.ContactMethod.id, models.ContactMethod.name).where(models.ContactMethod.id.in_(method_ids))
        )
    }
    return [
        View(
            row,
            users.get(row.user_id) if row.user_id is not None else None,
            methods.get(row.contact_method_id) if row.contact_method_id is not None else None,
        )
        for row in rows
    ]


def by_ids(session: Session, ids: Sequence[int]) -> Sequence[models.Notification]:
    if not ids:
        return []
    return session.scalars(
        select(models.Notification).where(models.Notification.id.in_(ids)).order_by(models.Notification.id)
    ).all()


def for_incident(session: Session, incident_id: int) -> Sequence[models.Notification]:
    return session.scalars(
        select(models.Notification)
        .where(models.Notification.incident_id == incident_id)
        .order_by(models.Notification.created_at, models.Notification.id)
    ).all()
