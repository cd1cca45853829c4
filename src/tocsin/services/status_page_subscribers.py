"""Status page subscribers: people by e-mail (double opt-in) and systems by webhook, told of
every public update of a non-drill incident and of its resolution.

    subscribe (public form)  → a subscriber, unconfirmed, and a `confirm` delivery: an e-mail
                               with a one-time link
    confirm (that link)      → confirmed; from now on it is sent notices
    unsubscribe (any e-mail's link, or one click from the mail client) → the row is deleted

Webhook subscribers are added by a writer through the API (a public form must not make
the server POST anywhere it is told) and are confirmed at once.

Notices are owed like team channel posts (services.channel_posts): the timeline is read
past a cursor in `engine_cursors`, rows younger than `settle` are read again each cycle
(a PostgreSQL transaction may commit a lower id late), and each notice is one
`status_page_deliveries` row per subscriber and entry, keyed
`notice:<subscriber>:<entry>` (unique), so a second reading owes nothing new. Only
public updates and moves to `resolved` of incidents that have a public update are read.
The rows' lifecycle is that of `notifications`: pending → sending (until a deadline)
→ sent | failed, retried with the channels' backoff; the engine module
(engine.status_page_notices) claims, sends with no transaction open, and records.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tocsin.domain import naming
from tocsin.domain.incidents import IncidentStatus
from tocsin.domain.timeline import EntryKind
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import audit
from tocsin.services import status_page_json as json_shapes
from tocsin.services import status_page_view as view
from tocsin.services.actor import Actor
from tocsin.storage import models

CURSOR = "status_page.notices"
SETTLE = timedelta(minutes=2)
# Settled deliveries are kept this long for `tocsin status-page subscribers` to show what was sent;
# by then the notice cursor is long past their updates, so their idempotency keys are no longer needed.
KEEP_DELIVERIES = timedelta(days=30)
BATCH = 500
MAX_ATTEMPTS = 5
# A second subscribe of an unconfirmed address within this sends no second e-mail.
CONFIRM_AGAIN_AFTER = timedelta(minutes=10)
KINDS = ("email", "webhook")

_D = models.StatusPageDelivery


# ---- subscribing -----------------------------------------------------------------------------


def _token() -> str:
    return secrets.token_urlsafe(32)


def _links(page_url: str, subscriber: models.StatusPageSubscriber) -> dict[str, str]:
    return {"unsubscribe_url": f"{page_url}/unsubscribe/{subscriber.token}", "page_url": page_url}


def subscribe_email(session: Session, now: datetime, address: str, page: view.Page) -> models.StatusPageSubscriber:
    """Subscribe an address (the public form): it is sent a confirmation link; the answer is the
    same whether it was known or not, so the form does not tell who is subscribed."""
    address = address.strip()
    problem = naming.email_problem(address)
    if problem is not None:
        raise ValidationFailed(problem, field="email")
    subscriber = session.scalars(
        select(models.StatusPageSubscriber).where(
            models.StatusPageSubscriber.kind == "email",
            func.lower(models.StatusPageSubscriber.address) == address.lower(),
        )
    ).first()
    if subscriber is None:
        subscriber = models.StatusPageSubscriber(
            kind="email", address=address, token=_token(), confirm_token=_token(), created_at=now
        )
        session.add(subscriber)
        session.flush()
    elif subscriber.confirmed_at is not None:
        return subscriber
    else:
        last = session.scalar(
            select(func.max(_D.created_at)).where(_D.subscriber_id == subscriber.id, _D.kind == "confirm")
        )
        if last is not None and now - last < CONFIRM_AGAIN_AFTER:
            return subscriber
        subscriber.confirm_token = _token()
    confirm_url = f"{page.url}/subscriptions/confirm/{subscriber.confirm_token}"
    payload = {
        "subject": f"Confirm your subscription to {page.name}",
        "text": (
            f"Someone, hopefully you, asked to be told by e-mail when {page.name} posts about an incident.\n\n"
            f"Confirm: {confirm_url}\n\n"
            "If it was not you, ignore this message: nothing is sent without the confirmation."
        ),
        "confirm_url": confirm_url,
        **_links(page.url, subscriber),
    }
    _owe(session, now, f"confirm:{subscriber.id}:{subscriber.confirm_token}", subscriber.id, "confirm", payload)
    session.flush()
    return subscriber


def confirm(session: Session, now: datetime, confirm_token: str) -> models.StatusPageSubscriber:
    subscriber = session.scalars(
        select(models.StatusPageSubscriber).where(models.StatusPageSubscriber.confirm_token == confirm_token)
    ).first()
    if subscriber is None:
        raise NotFound("this confirmation link is not valid (it may have been used already)", field="token")
    subscriber.confirmed_at = now
    subscriber.confirm_token = None
    session.flush()
    return subscriber


def by_token(session: Session, token: str) -> models.StatusPageSubscriber | None:
    return session.scalars(
        select(models.StatusPageSubscriber).where(models.StatusPageSubscriber.token == token)
    ).first()


def unsubscribe(session: Session, token: str) -> bool:
    """Forget the subscriber (and what was still owed to it); False when the link is unknown."""
    subscriber = by_token(session, token)
    if subscriber is None:
        return False
    session.delete(subscriber)
    session.flush()
    return True


def add_webhook(
    session: Session, actor: Actor, now: datetime, url: str, signing_secret: str | None = None
) -> models.StatusPageSubscriber:
    if not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise ValidationFailed("give an http:// or https:// URL of at most 2000 characters", field="url")
    exists = session.scalar(
        select(models.StatusPageSubscriber.id).where(
            models.StatusPageSubscriber.kind == "webhook", models.StatusPageSubscriber.address == url
        )
    )
    if exists is not None:
        raise Conflict("that webhook is subscribed already", field="url")
    subscriber = models.StatusPageSubscriber(
        kind="webhook", address=url, token=_token(), confirmed_at=now, signing_secret=signing_secret, created_at=now
    )
    session.add(subscriber)
    session.flush()
    audit.record(session, actor, now, "subscribe", "status_page_subscriber", str(subscriber.id), {"kind": "webhook"})
    return subscriber


def add_email(session: Session, actor: Actor, now: datetime, address: str) -> models.StatusPageSubscriber:
    """An address a writer subscribes (someone who asked in person): confirmed at once."""
    problem = naming.email_problem(address)
    if problem is not None:
        raise ValidationFailed(problem, field="address")
    exists = session.scalar(
        select(models.StatusPageSubscriber.id).where(
            models.StatusPageSubscriber.kind == "email",
            func.lower(models.StatusPageSubscriber.address) == address.lower(),
        )
    )
    if exists is not None:
        raise Conflict("that address is subscribed already", field="address")
    subscriber = models.StatusPageSubscriber(
        kind="email", address=address, token=_token(), confirmed_at=now, created_at=now
    )
    session.add(subscriber)
    session.flush()
    audit.record(session, actor, now, "subscribe", "status_page_subscriber", str(subscriber.id), {"kind": "email"})
    return subscriber


def list_subscribers(session: Session) -> Sequence[models.StatusPageSubscriber]:
    return session.scalars(select(models.StatusPageSubscriber).order_by(models.StatusPageSubscriber.id)).all()


def remove(session: Session, actor: Actor, now: datetime, subscriber_id: int) -> None:
    subscriber = session.get(models.StatusPageSubscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(f"no subscriber {subscriber_id}", field="subscriber")
    session.delete(subscriber)
    audit.record(session, actor, now, "unsubscribe", "status_page_subscriber", str(subscriber_id))
    session.flush()


def _owe(session: Session, now: datetime, key: str, subscriber_id: int, kind: str, payload: dict[str, Any]) -> bool:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    row = session.execute(
        insert(_D)
        .values(
            idempotency_key=key,
            subscriber_id=subscriber_id,
            kind=kind,
            status="pending",
            due_at=now,
            attempts=0,
            last_error="",
            payload=payload,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[_D.idempotency_key])
        .returning(_D.id)
    ).first()
    return row is not None


# ---- what is owed: notices for public updates ------------------------------------------------


def _cursor(session: Session, now: datetime, cutoff: datetime) -> int:
    row = session.get(models.EngineCursor, CURSOR)
    if row is not None:
        return row.position
    # First run: start at the settled end, so turning subscriptions on does not send history.
    start = session.scalar(select(func.max(models.TimelineEntry.id)).where(models.TimelineEntry.at <= cutoff)) or 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(models.EngineCursor)
        .values(name=CURSOR, position=start, updated_at=now)
        .on_conflict_do_nothing(index_elements=[models.EngineCursor.name])
    )
    row = session.get(models.EngineCursor, CURSOR, populate_existing=True)
    return row.position if row is not None else int(start)


def _advance(session: Session, cursor: int, now: datetime, cutoff: datetime, unread_after: int | None) -> None:
    entry = models.TimelineEntry
    settled = session.scalar(select(func.max(entry.id)).where(entry.id > cursor, entry.at <= cutoff))
    if settled is None:
        return
    if unread_after is not None:
        settled = min(settled, unread_after)
    session.execute(
        update(models.EngineCursor)
        .where(models.EngineCursor.name == CURSOR, models.EngineCursor.position < settled)
        .values(position=settled, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _noticed_entries(session: Session, cursor: int, batch: int) -> Sequence[Any]:
    entry = models.TimelineEntry
    incident = models.Incident
    public_update = and_(entry.kind == EntryKind.UPDATE.value, entry.data["public"].as_boolean().is_(True))
    resolved = and_(entry.kind == EntryKind.STATUS.value, entry.data["to"].as_string() == IncidentStatus.RESOLVED.value)
    return session.execute(
        select(entry.id, entry.incident_id, entry.kind)
        .join(incident, incident.id == entry.incident_id)
        .where(entry.id > cursor, incident.drill.is_(False), or_(public_update, resolved))
        .order_by(entry.id)
        .limit(batch)
    ).all()


@dataclass(frozen=True)
class Planned:
    owed: int  # delivery rows inserted
    read: int  # timeline entries read


def plan_notices(
    session: Session, now: datetime, public_url: str, *, batch: int = BATCH, settle: timedelta = SETTLE
) -> Planned:
    """Owe every confirmed subscriber a notice for each public update (and resolution) since the
    cursor; flushes, never commits."""
    cutoff = now - settle
    cursor = _cursor(session, now, cutoff)
    subscribers = session.scalars(
        select(models.StatusPageSubscriber).where(models.StatusPageSubscriber.confirmed_at.is_not(None))
    ).all()
    # Without subscribers nothing is read (an alert storm's entries are many): only the cursor moves on.
    entries = _noticed_entries(session, cursor, batch) if subscribers else []
    complete = len(entries) < batch
    owed = 0
    if entries and subscribers:
        page = view.page(session, public_url, now)
        snapshot = view.snapshot(session, now, public_url, bars=False)
        incidents: dict[int, view.PublicIncident | None] = {}
        for row in entries:
            if row.incident_id not in incidents:
                incidents[row.incident_id] = view.incident(session, row.incident_id)
            incident = incidents[row.incident_id]
            if incident is None:  # resolved without ever being public
                continue
            notice = _notice(page, snapshot, incident, row)
            if notice is None:
                continue
            existing = set(
                session.scalars(
                    select(_D.subscriber_id).where(
                        _D.idempotency_key.in_([f"notice:{s.id}:{row.id}" for s in subscribers])
                    )
                )
            )
            for subscriber in subscribers:
                if subscriber.id in existing:
                    continue
                payload = {**notice, **_links(page.url, subscriber)}
                owed += _owe(session, now, f"notice:{subscriber.id}:{row.id}", subscriber.id, "notice", payload)
    _advance(session, cursor, now, cutoff, None if complete else entries[-1].id)
    session.flush()
    return Planned(owed, len(entries))


def _notice(page: view.Page, snapshot: view.Snapshot, incident: view.PublicIncident, row: Any) -> dict[str, Any] | None:
    if row.kind == EntryKind.UPDATE.value:
        update_ = next((u for u in incident.updates if u.id == str(row.id)), None)
        if update_ is None:
            return None
        status, body, at = update_.status.value, update_.body, update_.at
    else:
        status, body, at = "resolved", view.RESOLVED_TEXT, incident.resolved_at or incident.updated_at
    url = f"{page.url}/incidents/{incident.id}"
    return {
        "subject": f"[{page.name}] {incident.name}: {status.capitalize()}",
        "text": body,
        "status": status,
        "incident_name": incident.name,
        "incident_url": url,
        "at": at.isoformat(),
        # What a webhook receives: Statuspage's webhook shape (page, incident with its updates).
        "webhook": {
            "page": {
                "id": json_shapes.PAGE_ID,
                "status_indicator": snapshot.indicator.value,
                "status_description": snapshot.description,
            },
            "incident": json_shapes.incident(incident, snapshot.component_names, url),
        },
    }


# ---- delivering: claim, record ------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    idempotency_key: str
    kind: str  # confirm / notice
    channel: str  # email / webhook
    address: str
    secret: str | None
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Result:
    outcome: str  # ok / retry / permanent
    error: str | None = None
    retry_at: datetime | None = None


def claim_due(session: Session, now: datetime, batch: int, lease: timedelta) -> list[Claimed]:
    """Move a batch of due rows to `sending` until `now + lease` (SKIP LOCKED on PostgreSQL; the
    UPDATE repeats the condition, so a row another process claimed meanwhile is skipped)."""
    due = or_(and_(_D.status == "pending", _D.due_at <= now), and_(_D.status == "sending", _D.deadline <= now))
    query = select(_D.id).where(due).order_by(_D.due_at, _D.id).limit(batch)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    rows = session.execute(
        update(_D)
        .where(_D.id.in_(ids), due)
        .values(status="sending", deadline=now + lease, attempts=_D.attempts + 1)
        .returning(_D.id, _D.idempotency_key, _D.kind, _D.subscriber_id, _D.payload, _D.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    subscribers = {
        s.id: s
        for s in session.scalars(
            select(models.StatusPageSubscriber).where(
                models.StatusPageSubscriber.id.in_([r.subscriber_id for r in rows])
            )
        )
    }
    claimed = []
    gone = []
    for row in sorted(rows, key=lambda r: r.id):
        subscriber = subscribers.get(row.subscriber_id)
        if subscriber is None:  # deleting a subscriber deletes its rows; this only guards the edge
            gone.append((row.id, row.attempts, Result("permanent", "the subscriber is gone")))
            continue
        claimed.append(
            Claimed(
                id=row.id,
                idempotency_key=row.idempotency_key,
                kind=row.kind,
                channel=subscriber.kind,
                address=subscriber.address,
                secret=subscriber.signing_secret,
                payload=dict(row.payload or {}),
                attempts=row.attempts,
            )
        )
    record_all(session, now, gone)
    session.flush()
    return claimed


def record_all(session: Session, now: datetime, results: Sequence[tuple[int, int, Result]]) -> None:
    """Store each `(row id, attempt number, result)`; a row no longer `sending` at that attempt (its
    claim lapsed and another sender took it, or its subscriber left) is left alone."""
    for delivery_id, attempt, result in results:
        ours = and_(_D.id == delivery_id, _D.status == "sending", _D.attempts == attempt)
        error = result.error or "delivery failed"
        if result.outcome == "ok":
            values: dict[str, Any] = {"status": "sent", "sent_at": now, "deadline": None, "last_error": ""}
        elif result.outcome == "retry" and attempt < MAX_ATTEMPTS:
            values = {"status": "pending", "due_at": result.retry_at or now, "deadline": None, "last_error": error}
        else:
            if result.outcome == "retry":
                error = f"{error} (gave up after {attempt} attempts)"
            values = {"status": "failed", "deadline": None, "last_error": error}
        session.execute(update(_D).where(ours).values(**values).execution_options(synchronize_session=False))
    session.flush()


def deliveries(session: Session, subscriber_id: int | None = None) -> Sequence[models.StatusPageDelivery]:
    query = select(_D).order_by(_D.id)
    if subscriber_id is not None:
        query = query.where(_D.subscriber_id == subscriber_id)
    return session.scalars(query).all()


def prune(session: Session, now: datetime, keep: timedelta = KEEP_DELIVERIES, limit: int = 10_000) -> int:
    """Forget up to `limit` deliveries settled (sent or failed) before `keep` ago; how many went."""
    oldest = (
        select(_D.id).where(_D.status.in_(("sent", "failed")), _D.created_at < now - keep).order_by(_D.id).limit(limit)
    )
    result = session.execute(delete(_D).where(_D.id.in_(oldest)).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
