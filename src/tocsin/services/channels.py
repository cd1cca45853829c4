"""Team channels (#alerts, #deploys, #dev-events …) and the routes that say which events each hears.

A channel's address is checked like a contact method's (`contacts.check_address`)
and can be a secret (a webhook URL is a credential): it never goes to the audit
log, and non-admins see it masked (`contacts.masked`). The signing secret of a
webhook channel is never shown to anyone. Routes are one ordered list per
channel, replaced whole; their patterns and thresholds follow
`tocsin.domain.channel_routing`. Posting is the engine's (`services.channel_posts`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from tocsin.domain import channel_routing as routing
from tocsin.domain import naming
from tocsin.domain.notify import ContactKind
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import audit, contacts, notifications, severities
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import channels as repo
from tocsin.storage.repositories import directory as directory_repo

KINDS = routing.CHANNEL_KINDS
MAX_ROUTES = 50
MAX_PATTERNS = 50
MIN_SECRET = contacts.SIGNING_SECRET_LENGTH[0]  # a short HMAC key can be guessed from its signatures


@dataclass(frozen=True)
class RouteSpec:
    events: Sequence[str]
    service: str | None = None  # a service key; None: every service
    min_severity: str | None = None


@dataclass(frozen=True)
class RouteView:
    service: str | None
    events: list[str]
    min_severity: str | None


@dataclass(frozen=True)
class View:
    """A channel with its routes as people name them (service keys, not ids)."""

    channel: models.Channel
    routes: list[RouteView]


# ---- reading ---------------------------------------------------------------------------


def list_channels(session: Session) -> Sequence[models.Channel]:
    return repo.list_channels(session)


def get_channel(session: Session, name: str) -> models.Channel:
    channel = repo.channel_by_name(session, name)
    if channel is None:
        raise NotFound(f"no channel {name!r}", field="channel")
    return channel


def views(session: Session, channels: Sequence[models.Channel]) -> list[View]:
    keys = repo.service_keys(session, {r.service_id for c in channels for r in c.routes if r.service_id is not None})
    return [
        View(
            channel,
            [
                RouteView(
                    keys.get(route.service_id) if route.service_id is not None else None,
                    list(route.events),
                    route.min_severity,
                )
                for route in channel.routes
            ],
        )
        for channel in channels
    ]


# ---- writing ---------------------------------------------------------------------------


def create_channel(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    name: str,
    kind: str,
    address: str,
    mention: str | None = None,
    signing_secret: str | None = None,
    routes: Sequence[RouteSpec] = (),
    managed: bool = False,
) -> models.Channel:
    problem = naming.key_problem(name)
    if problem:
        raise ValidationFailed(problem, field="name")
    _check(kind, address, mention or None, signing_secret or None)
    built = _routes(session, routes)
    if repo.channel_by_name(session, name) is not None:
        raise Conflict(f"a channel {name!r} exists", field="name")
    channel = models.Channel(
        name=name,
        kind=kind,
        address=address.strip(),
        mention=mention or None,
        signing_secret=signing_secret or None,
        managed=managed,
        created_at=now,
    )
    channel.routes = [_route_row(spec, position, now) for position, spec in enumerate(built)]
    session.add(channel)
    # The kind and the routes, never the address: the audit log is readable by people who must not see webhooks.
    audit.record(session, actor, now, "create", "channel", name, {"kind": kind, "routes": len(built)})
    session.flush()
    return channel


def update_channel(
    session: Session,
    actor: Actor,
    now: datetime,
    name: str,
    *,
    kind: str | None = None,
    address: str | None = None,
    mention: str | None = None,
    signing_secret: str | None = None,
    routes: Sequence[RouteSpec] | None = None,
) -> models.Channel:
    """Change what is given; None keeps a value, and "" removes `mention` or `signing_secret`."""
    channel = get_channel(session, name)
    new_kind = kind if kind is not None else channel.kind
    new_address = address.strip() if address is not None else channel.address
    new_mention = (mention or None) if mention is not None else channel.mention
    new_secret = (signing_secret or None) if signing_secret is not None else channel.signing_secret
    _check(new_kind, new_address, new_mention, new_secret)
    built = _routes(session, routes) if routes is not None else None
    changed = [
        field
        for field, old, new in (
            ("kind", channel.kind, new_kind),
            ("address", channel.address, new_address),
            ("mention", channel.mention, new_mention),
            ("signing_secret", channel.signing_secret, new_secret),
        )
        if old != new
    ]
    channel.kind, channel.address, channel.mention, channel.signing_secret = (
        new_kind,
        new_address,
        new_mention,
        new_secret,
    )
    if built is not None:
        channel.routes = [_route_row(spec, position, now) for position, spec in enumerate(built)]
        changed.append("routes")
    # Which fields changed, not their values: two of them are secrets.
    audit.record(session, actor, now, "update", "channel", name, {"changed": changed})
    session.flush()
    return channel


def delete_channel(session: Session, actor: Actor, now: datetime, name: str) -> None:
    channel = get_channel(session, name)
    # A post still waiting would otherwise lose its destination (the foreign key goes NULL) and fail.
    session.execute(
        update(models.Notification)
        .where(models.Notification.channel_id == channel.id, models.Notification.status == "pending")
        .values(status="canceled", deadline=None)
        .execution_options(synchronize_session=False)
    )
    session.delete(channel)  # its routes go with it
    audit.record(session, actor, now, "delete", "channel", name)
    session.flush()


def send_test(session: Session, actor: Actor, now: datetime, name: str) -> models.Notification:
    """Queue one test post to the channel, due now; the engine's deliveries module sends it."""
    channel = get_channel(session, name)
    notification = notifications.due_now(
        now,
        f"post-test:{channel.id}:{uuid.uuid4().hex}",
        "test",
        channel.kind,
        {
            "title": "Test post",
            "text": f"Tocsin can post to the channel {channel.name!r}.",
            "fields": [["Channel", channel.name], ["Sent by", actor.name]],
            "message_kind": "test",
        },
        channel_id=channel.id,
    )
    session.add(notification)
    audit.record(session, actor, now, "test", "channel", name)
    session.flush()
    return notification


# ---- checks ----------------------------------------------------------------------------


def _check(kind: str, address: str, mention: str | None, signing_secret: str | None) -> None:
    if kind not in KINDS:
        raise ValidationFailed(f"{kind!r} is not one of {', '.join(KINDS)}", field="kind")
    if not address.strip():
        raise ValidationFailed(f"a {kind} channel needs an address", field="address")
    contacts.check_address(ContactKind(kind), address, "channel")
    problem = routing.mention_problem(kind, mention) if mention is not None else None
    if problem:
        raise ValidationFailed(problem, field="mention")
    if signing_secret is not None:
        problem = routing.signing_problem(kind)
        if problem:
            raise ValidationFailed(problem, field="signing_secret")
        # The same rule as a person's webhook: one receiver contract (docs/webhooks.md).
        contacts.check_signing_secret(ContactKind.WEBHOOK, signing_secret)


@dataclass(frozen=True)
class _Route:
    events: list[str]
    service_id: int | None
    min_severity: str | None


def _routes(session: Session, specs: Sequence[RouteSpec]) -> list[_Route]:
    if len(specs) > MAX_ROUTES:
        raise ValidationFailed(f"at most {MAX_ROUTES} routes per channel", field="routes")
    scheme = severities.active(session)
    built = []
    for index, spec in enumerate(specs):
        where = f"routes[{index}]"
        events = list(dict.fromkeys(spec.events))
        if not events:
            raise ValidationFailed("a route needs at least one event pattern, e.g. incident.*", field=f"{where}.events")
        if len(events) > MAX_PATTERNS:
            raise ValidationFailed(f"at most {MAX_PATTERNS} event patterns per route", field=f"{where}.events")
        for number, pattern in enumerate(events):
            problem = routing.pattern_problem(pattern)
            if problem:
                raise ValidationFailed(problem, field=f"{where}.events[{number}]")
        service_id = None
        if spec.service is not None:
            service = directory_repo.service_by_key(session, spec.service)
            if service is None or service.archived_at is not None:
                raise ValidationFailed(f"unknown service {spec.service!r}", field=f"{where}.service")
            service_id = service.id
        if spec.min_severity is not None and scheme.level(spec.min_severity) is None:
            names = ", ".join(level.name for level in scheme.levels)
            raise ValidationFailed(
                f"unknown severity {spec.min_severity!r}; the {scheme.name} scheme has {names}",
                field=f"{where}.min_severity",
            )
        built.append(_Route(events, service_id, spec.min_severity))
    return built


def _route_row(route: _Route, position: int, now: datetime) -> models.ChannelRoute:
    return models.ChannelRoute(
        service_id=route.service_id,
        events=route.events,
        min_severity=route.min_severity,
        position=position,
        created_at=now,
    )
