"""Channel posts: incident events from the timeline, changes from the `changes` table and
development events (pull requests, pushes, CI results) from `dev_events`, turned into
notification rows addressed to the team channels whose routes match.

Each source is read past a cursor in `engine_cursors`. On PostgreSQL, ids come
from a sequence and transactions commit in any order: an entry with a lower id
can become visible after a higher one was read. So the cursor only moves past
rows older than `settle` (by their own timestamp), and every cycle reads again
everything after it: the rows of the last `settle` are read each cycle until
they settle, and the idempotency key (`post:{channel}:timeline:{entry}`, the
unique `notifications.idempotency_key`, INSERT … ON CONFLICT DO NOTHING) makes
a second reading post nothing. A transaction open longer than `settle` between
writing an entry and committing it could still be missed; Tocsin's are short.

The timeline query filters entry kinds in SQL (`domain.channel_routing.POSTED_KINDS`
and page notes): an alert storm writes an "alert" entry per alert, and those
must be neither posted nor read. A cursor made for the first time starts at
the settled end of the table, so turning the feature on does not post history.

Posts carry their incident's id (and its human id in the payload); stopping
an incident's paging cancels its pending pages, not its posts, so "resolved"
still reaches the channel after the acknowledgement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from tocsin.domain import channel_routing as routing
from tocsin.domain.channel_routing import EventType
from tocsin.domain.timeline import EntryKind
from tocsin.storage import models
from tocsin.storage.repositories import channels as channels_repo
from tocsin.storage.repositories import severities as severities_repo

TIMELINE = "channel_posts.timeline"
CHANGES = "channel_posts.changes"
DEV_EVENTS = "channel_posts.dev_events"
SETTLE = timedelta(minutes=2)
BATCH = 500
PAGES = 20

_DRILL = "DRILL"
# The message kind a channel renders the post as (channels.message.MessageKind): a label before the
# title ("Resolved: …") and the colour. Anything not listed reads as an update.
_MESSAGE_KINDS = {
    EventType.INCIDENT_DECLARED: "page",
    EventType.INCIDENT_ACKNOWLEDGED: "acknowledged",
    EventType.INCIDENT_RESOLVED: "resolved",
}
_LABELS = {
    EventType.INCIDENT_DECLARED: "Declared",
    EventType.INCIDENT_ACKNOWLEDGED: "Acknowledged",
    EventType.INCIDENT_ESCALATED: "Escalated",
    EventType.INCIDENT_SEVERITY_CHANGED: "Severity changed",
    EventType.INCIDENT_STATUS_CHANGED: "Status changed",
    EventType.INCIDENT_MITIGATED: "Mitigated",
    EventType.INCIDENT_RESOLVED: "Resolved",
    EventType.INCIDENT_REOPENED: "Reopened",
    EventType.INCIDENT_CANCELED: "Canceled",
    EventType.INCIDENT_UPDATE: "Status update",
    EventType.DEPLOY_STARTED: "Deploy started",
    EventType.DEPLOY_SUCCEEDED: "Deployed",
    EventType.DEPLOY_FAILED: "Deploy failed",
    EventType.CHANGE_RECORDED: "Change",
    EventType.RELEASE_PUBLISHED: "Released",
}
# What channels.message accepts as a link; anything else would make the post unsendable.
_LINK_RE = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)


@dataclass(frozen=True)
class Cycle:
    posts: int  # notification rows inserted
    read: int  # timeline entries and changes read (the rows of the settle window again each cycle)


@dataclass(frozen=True)
class _Post:
    key: str
    channel: models.Channel
    event: str
    payload: dict[str, Any]
    incident_id: int | None = None


@dataclass(frozen=True)
class _Source:
    """One table read past a cursor: its id and timestamp columns, and the query for a page of rows."""

    cursor: str
    id: Any
    at: Any
    page: Callable[[Session, int, int], Sequence[Any]]


def post_due(
    session: Session,
    now: datetime,
    *,
    public_url: str,
    batch: int = BATCH,
    pages: int = PAGES,
    settle: timedelta = SETTLE,
) -> Cycle:
    """Insert the posts owed for what happened since the cursors; flushes, never commits.
    Reads at most `pages` pages of `batch` rows per source; the next cycle goes on from there."""
    # Routes through their channels: a channel deleted meanwhile takes its routes with it.
    channels = {c.id: c for c in channels_repo.list_channels(session)}
    routes = [
        routing.Route(c.id, tuple(r.events), r.service_id, r.min_severity) for c in channels.values() for r in c.routes
    ]
    cutoff = now - settle
    scheme = severities_repo.active_scheme(session) if routes else None
    ranks = {level.name: level.rank for level in scheme.levels} if scheme is not None else {}
    posts: list[_Post] = []
    read = 0
    for source in (_TIMELINE, _CHANGES, _DEV_EVENTS):
        cursor = _cursor(session, source, now, cutoff)
        # Without a route nothing is posted: only the cursor moves on.
        rows, complete = _read(session, source, cursor, batch, pages) if routes else ([], True)
        read += len(rows)
        if source is _TIMELINE:
            posts += _timeline_posts(session, rows, routes, channels, ranks, public_url)
        elif source is _CHANGES:
            posts += _change_posts(session, rows, routes, channels)
        else:
            posts += _dev_event_posts(session, rows, routes, channels)
        _advance(session, source, cursor, now, cutoff, None if complete else rows[-1].id)
    inserted = _insert(session, posts, now)
    session.flush()
    return Cycle(inserted, read)


def _read(session: Session, source: _Source, cursor: int, batch: int, pages: int) -> tuple[list[Any], bool]:
    """The rows past `cursor`, page by page; whether every row was read (False: stopped at `pages`)."""
    rows: list[Any] = []
    after = cursor
    for _ in range(pages):
        page = source.page(session, after, batch)
        rows.extend(page)
        if len(page) < batch:
            return rows, True
        after = page[-1].id
    return rows, False


# ---- cursors ---------------------------------------------------------------------------


def _settled_max(session: Session, source: _Source, after: int, cutoff: datetime) -> int | None:
    # An aggregate over a primary-key range: the database counts an alert storm, Python never sees it.
    found = session.scalar(select(func.max(source.id)).where(source.id > after, source.at <= cutoff))
    return int(found) if found is not None else None


def _cursor(session: Session, source: _Source, now: datetime, cutoff: datetime) -> int:
    row = session.get(models.EngineCursor, source.cursor)
    if row is not None:
        return row.position
    # First run: start at the settled end, so history is not posted; the last `settle` still is.
    start = _settled_max(session, source, 0, cutoff) or 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(models.EngineCursor)
        .values(name=source.cursor, position=start, updated_at=now)
        .on_conflict_do_nothing(index_elements=[models.EngineCursor.name])
    )
    row = session.get(models.EngineCursor, source.cursor, populate_existing=True)
    return row.position if row is not None else start


def _advance(
    session: Session, source: _Source, cursor: int, now: datetime, cutoff: datetime, unread_after: int | None
) -> None:
    """Move the cursor to the last settled row; with `unread_after`, no further than that (rows past it
    were not read, whatever their age)."""
    settled = _settled_max(session, source, cursor, cutoff)
    if settled is None:
        return
    if unread_after is not None:
        settled = min(settled, unread_after)
    # Never backwards: a second process that read an older position must not undo this one.
    session.execute(
        update(models.EngineCursor)
        .where(models.EngineCursor.name == source.cursor, models.EngineCursor.position < settled)
        .values(position=settled, updated_at=now)
        .execution_options(synchronize_session=False)
    )


# ---- incidents: the timeline -------------------------------------------------------------


def _posted_entries() -> ColumnElement[bool]:
    entry = models.TimelineEntry
    return or_(
        entry.kind.in_([kind.value for kind in routing.POSTED_KINDS]),
        and_(entry.kind == EntryKind.NOTE.value, entry.data["event"].as_string() == routing.PAGE_NOTE_EVENT),
    )


def _entries(session: Session, cursor: int, batch: int) -> Sequence[Any]:
    entry = models.TimelineEntry
    return session.execute(
        select(entry.id, entry.incident_id, entry.kind, entry.at, entry.actor_name, entry.summary, entry.data)
        .where(entry.id > cursor, _posted_entries())
        .order_by(entry.id)
        .limit(batch)
    ).all()


def _timeline_posts(
    session: Session,
    entries: Sequence[Any],
    routes: Sequence[routing.Route],
    channels: Mapping[int, models.Channel],
    ranks: Mapping[str, int],
    public_url: str,
) -> list[_Post]:
    events = [(row, routing.timeline_event(row.kind, row.data or {})) for row in entries]
    wanted = {row.incident_id for row, event in events if event is not None}
    incidents = {
        incident.id: incident
        for incident in session.scalars(
            select(models.Incident)
            .where(models.Incident.id.in_(wanted))
            .options(selectinload(models.Incident.services))
        )
    }
    posts = []
    for row, event in events:
        incident = incidents.get(row.incident_id)
        if event is None or incident is None:
            continue
        data: Mapping[str, Any] = row.data or {}
        # The severity the event had: the declared one, the new one; for other events the incident's now.
        if row.kind == EntryKind.SEVERITY:
            severity = str(data.get("to") or incident.severity)
        else:
            severity = str(data.get("severity") or incident.severity)
        about = routing.Event(event.value, frozenset(s.id for s in incident.services), severity)
        payload: dict[str, Any] | None = None
        for channel_id in routing.channels_for(about, routes, ranks):
            payload = payload or _incident_payload(incident, row, event, severity, ranks, public_url)
            posts.append(
                _Post(
                    f"post:{channel_id}:timeline:{row.id}", channels[channel_id], event.value, payload, row.incident_id
                )
            )
    return posts


def _incident_payload(
    incident: models.Incident,
    row: Any,
    event: EventType,
    severity: str,
    ranks: Mapping[str, int],
    public_url: str,
) -> dict[str, Any]:
    """The shape of a page's payload (services.escalations), with what the event changed."""
    data: Mapping[str, Any] = row.data or {}
    services = ", ".join(service.key for service in incident.services)
    status = str(data.get("to")) if row.kind == EntryKind.STATUS else incident.status
    label = _LABELS[event]
    fields = [["Event", label], ["Severity", severity], ["Status", status]]
    if services:
        fields.insert(1, ["Service", services])
    if row.actor_name:
        fields.append(["By", row.actor_name])
    title = incident.title
    # The entry's own words ("Severity P2 → P1", "Paged alice via e-mail (level 2 of 2 …)", an update's text).
    text = row.summary
    if incident.drill:
        # A drill must never be mistaken for the real thing by someone reading the channel at 3 a.m.
        # A drill started by `tocsin drill` is titled so already.
        title = title if title.startswith(f"{_DRILL}: ") else f"{_DRILL}: {title}"
        text = f"{_DRILL}, not a real incident. {text}"
        fields.insert(0, ["Drill", "yes: practice, not a real incident"])
    payload: dict[str, Any] = {
        "title": title,
        "text": text,
        "severity": severity,
        "incident": incident.human_id,
        "url": f"{public_url}/api/v1/incidents/{incident.human_id}",
        "fields": fields,
        "event": event.value,
        "message_kind": _MESSAGE_KINDS.get(event, "incident_update"),
        # The channel's mention (a role) is pinged only when people are needed; the rest is news.
        "mention": event in routing.CALLS_FOR_PEOPLE,
        "at": row.at.isoformat(),
        "drill": incident.drill,
    }
    if severity in ranks:
        payload["severity_rank"] = ranks[severity]
    return payload


# ---- changes and deploys -------------------------------------------------------------------


def _changes(session: Session, cursor: int, batch: int) -> Sequence[models.Change]:
    return session.scalars(
        select(models.Change).where(models.Change.id > cursor).order_by(models.Change.id).limit(batch)
    ).all()


def _change_posts(
    session: Session,
    changes: Sequence[models.Change],
    routes: Sequence[routing.Route],
    channels: Mapping[int, models.Channel],
) -> list[_Post]:
    keys = channels_repo.service_keys(session, {c.service_id for c in changes if c.service_id is not None})
    posts = []
    for change in changes:
        event = routing.change_event((change.details or {}).get("event"))
        services = frozenset({change.service_id}) if change.service_id is not None else frozenset()
        payload: dict[str, Any] | None = None
        # Changes have no severity: thresholds do not apply (domain.channel_routing).
        for channel_id in routing.channels_for(routing.Event(event.value, services), routes, {}):
            service = keys.get(change.service_id) if change.service_id is not None else None
            payload = payload or _change_payload(change, event, service)
            posts.append(_Post(f"post:{channel_id}:change:{change.id}", channels[channel_id], event.value, payload))
    return posts


def _change_payload(change: models.Change, event: EventType, service: str | None) -> dict[str, Any]:
    label = _LABELS[event]
    summary = " ".join(change.summary.split()) or label
    fields = [["Event", label]]
    if service:
        fields.append(["Service", service])
    if change.source:
        fields.append(["Source", change.source])
    payload: dict[str, Any] = {
        "title": summary[:300],
        "text": f"{label}"
        + (f" on {service}" if service else "")
        + (f" from {change.source}" if change.source else ""),
        "fields": fields,
        "event": event.value,
        "message_kind": "post",
        "mention": False,
        "at": change.occurred_at.isoformat(),
    }
    link = _first_link(change.links or [])
    if link is not None:
        payload["url"] = link
    return payload


def _first_link(links: Iterable[Any]) -> str | None:
    for link in links:
        href = link.get("href") if isinstance(link, dict) else None
        if isinstance(href, str) and _LINK_RE.fullmatch(href):
            return href
    return None


# ---- development events: pull requests, pushes, CI results ----------------------------------


def _dev_events(session: Session, cursor: int, batch: int) -> Sequence[models.DevEvent]:
    return session.scalars(
        select(models.DevEvent).where(models.DevEvent.id > cursor).order_by(models.DevEvent.id).limit(batch)
    ).all()


def _dev_event_posts(
    session: Session,
    events: Sequence[models.DevEvent],
    routes: Sequence[routing.Route],
    channels: Mapping[int, models.Channel],
) -> list[_Post]:
    keys = channels_repo.service_keys(session, {e.service_id for e in events if e.service_id is not None})
    posts = []
    for row in events:
        services = frozenset({row.service_id}) if row.service_id is not None else frozenset()
        payload: dict[str, Any] | None = None
        # Like changes, development events have no severity.
        for channel_id in routing.channels_for(routing.Event(row.type, services), routes, {}):
            service = keys.get(row.service_id) if row.service_id is not None else None
            payload = payload or _dev_event_payload(row, service)
            posts.append(_Post(f"post:{channel_id}:dev:{row.id}", channels[channel_id], row.type, payload))
    return posts


def _dev_event_payload(row: models.DevEvent, service: str | None) -> dict[str, Any]:
    summary = " ".join(row.summary.split()) or row.type
    fields = [["Event", row.type]]
    if row.repository:
        fields.append(["Repository", row.repository])
    if service:
        fields.append(["Service", service])
    if row.actor:
        fields.append(["By", row.actor])
    payload: dict[str, Any] = {
        "title": summary[:300],
        "text": summary,
        "fields": fields,
        "event": row.type,
        "message_kind": "post",
        "mention": False,
        "at": row.occurred_at.isoformat(),
    }
    if _LINK_RE.fullmatch(row.url):
        payload["url"] = row.url
    return payload


_TIMELINE = _Source(TIMELINE, models.TimelineEntry.id, models.TimelineEntry.at, _entries)
_CHANGES = _Source(CHANGES, models.Change.id, models.Change.received_at, _changes)
_DEV_EVENTS = _Source(DEV_EVENTS, models.DevEvent.id, models.DevEvent.received_at, _dev_events)


# ---- writing -----------------------------------------------------------------------------


def _insert(session: Session, posts: Sequence[_Post], now: datetime) -> int:
    if not posts:
        return 0
    # Most of a cycle's posts were made by an earlier cycle (the settle window is read again):
    # look first, so a PostgreSQL sequence value is not burnt per conflicting INSERT.
    existing = set(
        session.scalars(
            select(models.Notification.idempotency_key).where(
                models.Notification.idempotency_key.in_([post.key for post in posts])
            )
        )
    )
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    count = 0
    for post in posts:
        if post.key in existing:
            continue
        row = session.execute(
            insert(models.Notification)
            .values(
                idempotency_key=post.key,
                incident_id=post.incident_id,
                escalation_id=None,
                user_id=None,
                contact_method_id=None,
                channel_id=post.channel.id,
                kind="post",
                channel=post.channel.kind,
                step=post.event,
                status="pending",
                due_at=now,
                attempts=0,
                last_error="",
                payload=post.payload,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[models.Notification.idempotency_key])
            .returning(models.Notification.id)
        ).first()
        count += row is not None
    return count
