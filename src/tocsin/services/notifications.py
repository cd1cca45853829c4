"""Notification delivery bookkeeping: claim due rows, record each batch's results.

A row moves `pending → sending (deadline) → sent | failed`, or back to
`pending` with a later `due_at` after an attempt that may work later. The
engine's deliveries module claims a batch and commits, sends with no
transaction open, then records the whole batch's results in a second short
transaction, a few set-based statements whatever the batch's size; nothing
here talks to the network.

A row goes to one of two destinations: a user's contact method (`contact_method_id`:
pages, tests, verification codes, hand-offs) or a team channel (`channel_id`:
posts to #alerts and the like). Both are read when the row is claimed, so a
corrected address or a rotated signing secret is used by the next attempt.

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
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
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
# What a verification code's row keeps once it is sent or failed: the code is only for its recipient.
SPENT_CODE = {"title": "Verification code", "text": "(the code is not kept once sent)"}

# Core statements on the tables: a batch's results are a few set-based statements, not ORM objects.
_N = cast(Table, models.Notification.__table__)
_METHODS = cast(Table, models.ContactMethod.__table__)


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to, in the engine's words (`channels.DeliveryResult`, which
    this layer does not import). `retry_at` is when to try again if a retry can help:
    the engine computes it with the channels' backoff, honouring a Retry-After.

    `unsent` is an attempt the sender never started (the claim's deadline would
    have passed before it could finish): the row goes back as it was, due at
    once, and the attempt does not count.
    """

    outcome: str  # ok / retry / permanent / unsent
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Claimed:
    """One claimed row, as plain data: the sender works on it with no session open.

    `channel` is the destination's kind; `address`, `mention` and `secret` (the
    webhook signing key) are the contact method's or team channel's current
    ones, so a corrected webhook URL is used by the next attempt. `attempts`
    counts this one and guards `record_all`: a result for an attempt that is no
    longer the row's latest changes nothing.
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
            models.Notification.channel_id,
            models.Notification.contact_method_id,
            models.Notification.payload,
            models.Notification.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    method_ids = {row.contact_method_id for row in rows if row.contact_method_id is not None}
    channel_ids = {row.channel_id for row in rows if row.channel_id is not None}
    methods = {
        method.id: method
        for method in session.scalars(select(models.ContactMethod).where(models.ContactMethod.id.in_(method_ids)))
    }
    channels = {
        channel.id: channel
        for channel in session.scalars(select(models.Channel).where(models.Channel.id.in_(channel_ids)))
    }
    position = {notification_id: n for n, notification_id in enumerate(ids)}
    claimed: list[Claimed] = []
    gone: list[tuple[int, int, Attempt]] = []
    for row in sorted(rows, key=lambda r: position[r.id]):
        payload = dict(row.payload or {})
        team = channels.get(row.channel_id) if row.channel_id is not None else None
        method = methods.get(row.contact_method_id) if row.contact_method_id is not None else None
        if team is not None:
            # The planner may post without pinging the channel's role (e.g. below a severity).
            mention = None if payload.get("mention") is False else team.mention
            destination = (team.kind, team.address, mention, team.signing_secret)
        elif method is not None:
            destination = (method.kind, method.address, method.mention, method.signing_secret)
        else:
            # SET NULL on delete: the row outlived its destination.
            what = "team channel" if row.kind == "post" else "contact method"
            gone.append((row.id, row.attempts, Attempt("permanent", f"the {what} was removed")))
            continue
        kind, address, mention, secret = destination
        claimed.append(
            Claimed(
                id=row.id,
                idempotency_key=row.idempotency_key,
                kind=row.kind,
                channel=kind,
                address=address,
                mention=mention,
                secret=secret if kind == "webhook" else None,
                payload=payload,
                attempts=row.attempts,
            )
        )
    record_all(session, now, gone)
    session.flush()
    return claimed


def record(session: Session, now: datetime, notification_id: int, attempt: int, result: Attempt) -> str | None:
    """Store the result of attempt number `attempt` of one row (`record_all` for one)."""
    return record_all(session, now, [(notification_id, attempt, result)])[0]


def record_all(session: Session, now: datetime, results: Sequence[tuple[int, int, Attempt]]) -> list[str | None]:
    """Store a batch of results, each `(notification id, attempt number, result)`; returns
    each row's new status, in order.

    None where the row is no longer ours: canceled meanwhile (an acknowledgement
    stops pages) or claimed again by another sender after our deadline passed.
    The rows are read (and on PostgreSQL locked) first, so the statements that
    follow touch only ours, and a failed row's follow-up (the next contact
    method, a timeline entry) is made exactly once.
    """
    if not results:
        return []
    expected = {notification_id: attempt for notification_id, attempt, _ in results}
    query = (
        select(_N.c.id, _N.c.attempts, _N.c.kind, _N.c.contact_method_id)
        .where(_N.c.id.in_(expected), _N.c.status == "sending")
        .order_by(_N.c.id)  # one lock order for every sender
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    ours = {row.id: row for row in session.execute(query) if row.attempts == expected[row.id]}

    statuses: list[str | None] = []
    sent: list[int] = []
    unsent: list[int] = []
    retries: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for notification_id, attempt, result in results:
        if notification_id not in ours:
            statuses.append(None)
            continue
        error = result.error or "delivery failed"
        if result.outcome == "ok":
            sent.append(notification_id)
            statuses.append("sent")
        elif result.outcome == "unsent":
            unsent.append(notification_id)
            statuses.append("pending")
        elif result.outcome == "retry" and attempt < MAX_ATTEMPTS:
            retries.append({"b_id": notification_id, "b_due": result.retry_at or now, "b_error": error})
            statuses.append("pending")
        else:
            if result.outcome == "retry":
                error = f"{error} (gave up after {attempt} attempts)"
            failures.append({"b_id": notification_id, "b_error": error})
            statuses.append("failed")

    connection = session.connection()
    if sent:
        connection.execute(
            update(_N).where(_N.c.id.in_(sent)).values(status="sent", sent_at=now, deadline=None, last_error="")
        )
        # A test that reached its destination verifies the contact method (`tocsin notify test`):
        # escalations page only verified methods, and nothing else verifies one made by `tocsin apply`.
        tested = {
            ours[n].contact_method_id for n in sent if ours[n].kind == "test" and ours[n].contact_method_id is not None
        }
        if tested:
            connection.execute(update(_METHODS).where(_METHODS.c.id.in_(tested)).values(verified=True))
    if unsent:
        connection.execute(
            update(_N).where(_N.c.id.in_(unsent)).values(status="pending", deadline=None, attempts=_N.c.attempts - 1)
        )
    if retries:
        connection.execute(
            update(_N)
            .where(_N.c.id == bindparam("b_id"))
            .values(status="pending", due_at=bindparam("b_due"), deadline=None, last_error=bindparam("b_error")),
            retries,
        )
    if failures:
        connection.execute(
            update(_N)
            .where(_N.c.id == bindparam("b_id"))
            .values(status="failed", deadline=None, last_error=bindparam("b_error")),
            failures,
        )
    failed = [failure["b_id"] for failure in failures]
    spent = [n for n in (*sent, *failed) if ours[n].kind == "verify"]
    if spent:
        connection.execute(update(_N).where(_N.c.id.in_(spent)).values(payload=SPENT_CODE))
    if failed:
        _after_failures(session, now, failed)
    return statuses


def _after_failures(session: Session, now: datetime, failed_ids: Sequence[int]) -> None:
    """What a failure leads to: a page tries the user's next contact method; a team
    channel's post about an incident says on its timeline that it did not get through."""
    rows = session.scalars(
        select(models.Notification)
        .where(models.Notification.id.in_(failed_ids))
        .order_by(models.Notification.id)
        .execution_options(populate_existing=True)
    ).all()
    for failed in rows:
        if failed.kind == "page":
            _fall_back(session, now, failed)
        elif failed.kind == "post":
            _post_failed(session, now, failed)
    session.flush()


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


def _post_failed(session: Session, now: datetime, failed: models.Notification) -> None:
    """A team channel's post has no next contact method: the failure is the row's, and the timeline's."""
    incident = _incident_of(session, failed)
    if incident is None:
        return
    team = session.get(models.Channel, failed.channel_id) if failed.channel_id is not None else None
    where = f"the {team.name} channel" if team is not None else "a removed team channel"
    timeline.add(
        session,
        incident,
        ENGINE,
        now,
        EntryKind.NOTE,
        f"Post to {where} via {_label(failed.channel)} failed: {failed.last_error}",
        {
            "notification": failed.id,
            "team_channel": team.name if team is not None else None,
            "channel": failed.channel,
            "error": failed.last_error,
        },
    )


def _incident_of(session: Session, row: models.Notification) -> models.Incident | None:
    if row.incident_id is not None:
        return session.get(models.Incident, row.incident_id)
    # Older posts named their incident only in the payload.
    human_id = (row.payload or {}).get("incident")
    if not isinstance(human_id, str):
        return None
    return session.scalar(select(models.Incident).where(models.Incident.human_id == human_id))


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


# ---- messages to one person: hand-offs, briefings, reminders ----------------------------------


def reachable_methods(session: Session, user_id: int) -> list[models.ContactMethod]:
    """The user's verified methods in the order of their notification rules, each once.

    Every rule counts, whatever its delay or urgency: a message that is not a page (a hand-off,
    a briefing, a reminder) is said once, at once, and a message too many beats one nobody got.
    Methods no rule names get nothing, as with pages; unverified ones never do (a mistyped
    number must not swallow the message).
    """
    chosen: dict[int, models.ContactMethod] = {}
    for rule in paging_repo.rules_of(session, user_id):
        method = rule.contact_method
        if method.verified and method.id not in chosen:
            chosen[method.id] = method
    return list(chosen.values())


def owe_once(
    session: Session,
    now: datetime,
    *,
    key: str,
    kind: str,
    user_id: int,
    method: models.ContactMethod,
    payload: dict[str, Any],
    incident_id: int | None = None,
    step: str = "",
) -> int | None:
    """Owe one message to one contact method, for the deliveries module to send at once: the
    row's id, or None when `key` was owed already (the unique key with ON CONFLICT DO NOTHING
    settles two processes racing to owe it). Pass `incident_id` only for messages that stop
    with the incident's paging: stopping it cancels the incident's pending rows."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    row = session.execute(
        insert(models.Notification)
        .values(
            idempotency_key=key,
            incident_id=incident_id,
            escalation_id=None,
            user_id=user_id,
            contact_method_id=method.id,
            kind=kind,
            channel=method.kind,
            step=step,
            status="pending",
            due_at=now,
            attempts=0,
            last_error="",
            payload=payload,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[models.Notification.idempotency_key])
        .returning(models.Notification.id)
    ).first()
    return None if row is None else int(row[0])


# ---- test notifications and reading -----------------------------------------------------------


def due_now(
    now: datetime, key: str, kind: str, channel: str, payload: dict[str, Any], **target: int | None
) -> models.Notification:
    """A row for the deliveries module to send at once, not tried yet: how every test,
    verification code and test post starts. `target`: user_id and contact_method_id,
    or channel_id."""
    return models.Notification(
        idempotency_key=key,
        kind=kind,
        channel=channel,
        step="",
        status="pending",
        due_at=now,
        attempts=0,
        last_error="",
        payload=payload,
        created_at=now,
        **target,
    )


def send_test(session: Session, user: models.User, now: datetime) -> list[models.Notification]:
    """One `test` notification per contact method of `user`, due now (`tocsin notify test`)."""
    made: list[models.Notification] = []
    for method in paging_repo.contact_methods_of(session, user.id):
        notification = due_now(
            now,
            f"test-{uuid.uuid4().hex}",
            "test",
            method.kind,
            {
                "title": "Test notification",
                "text": f"Tocsin can reach {user.name} through the contact method {method.name!r}.",
                "fields": [["Contact method", method.name]],
            },
            user_id=user.id,
            contact_method_id=method.id,
        )
        session.add(notification)
        made.append(notification)
    session.flush()
    return made


def send_verification_code(
    session: Session, user: models.User, method: models.ContactMethod, code: str, now: datetime, valid: timedelta
) -> models.Notification:
    """A `verify` notification carrying `code` through `method`, due now (`contacts.start_verification`).

    A code that has not gone out yet is superseded: its row is canceled and
    its payload, which holds the code, forgotten.
    """
    session.execute(
        update(models.Notification)
        .where(
            models.Notification.contact_method_id == method.id,
            models.Notification.kind == "verify",
            models.Notification.status == "pending",
        )
        .values(status="canceled", payload=SPENT_CODE)
        .execution_options(synchronize_session=False)
    )
    minutes = int(valid.total_seconds() // 60)
    notification = due_now(
        now,
        f"verify-{uuid.uuid4().hex}",
        "verify",
        method.kind,
        # The code in the title: it is what a phone's notification preview shows.
        {
            "title": f"Your Tocsin code is {code}",
            "text": (
                f"Enter it within {minutes} minutes to verify the contact method {method.name!r} of {user.email}: "
                f"tocsin contact verify {user.email} {method.name} --code {code}"
            ),
            "fields": [["Code", code], ["Contact method", method.name]],
        },
        user_id=user.id,
        contact_method_id=method.id,
    )
    session.add(notification)
    session.flush()
    return notification


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
