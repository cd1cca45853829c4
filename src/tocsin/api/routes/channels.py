"""Team channels: where incident events, deploys and changes are posted, and which of them each hears.

Reading needs a read token; creating, changing and deleting a channel needs an
admin token, because a channel's address is a credential. Only admins see it in
full, everyone else a masked form, as with contact methods; a webhook
channel's signing secret is never shown. `POST /channels/{name}/test` only
queues the post: the engine's deliveries module sends it, and
`GET /notifications?ids=…` tells what came of it.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from tocsin.api.deps import Admin, CurrentClock, DbSession, Reader, Writer
from tocsin.api.routes.notify import NotificationOut
from tocsin.api.schemas import Body
from tocsin.domain.access import Scope
from tocsin.services import channels, contacts, notifications
from tocsin.services.actor import Actor
from tocsin.storage import models

router = APIRouter(prefix="/api/v1", tags=["channels"])


class RouteIn(Body):
    service: str | None = Field(default=None, max_length=100, description="A service key; null: every service")
    events: list[str] = Field(
        min_length=1, max_length=channels.MAX_PATTERNS, description="Event patterns: incident.*, deploy.failed, *"
    )
    min_severity: str | None = Field(
        default=None, max_length=20, description="Only incidents at or above this severity; null: every severity"
    )


class CreateChannel(Body):
    name: str = Field(min_length=1, max_length=100, description="e.g. alerts, deploys, dev-events")
    kind: str = Field(description="discord, slack, email, webhook or apprise")
    address: str = Field(min_length=1, max_length=2_000, description="The webhook URL, e-mail address or Apprise URL")
    mention: str | None = Field(
        default=None, max_length=100, description="A Discord or Slack id to ping, or & and a role or user group id"
    )
    signing_secret: str | None = Field(
        default=None, max_length=200, description="webhook only: the key of X-Tocsin-Signature; never shown"
    )
    routes: list[RouteIn] = Field(default_factory=list, max_length=channels.MAX_ROUTES)


class ChannelChange(Body):
    """Only the fields given change; `null` removes `mention` or `signing_secret`."""

    kind: str | None = None
    address: str | None = Field(default=None, min_length=1, max_length=2_000)
    mention: str | None = Field(default=None, max_length=100)
    signing_secret: str | None = Field(default=None, max_length=200)
    routes: list[RouteIn] | None = Field(default=None, max_length=channels.MAX_ROUTES)


class RouteOut(BaseModel):
    service: str | None
    events: list[str]
    min_severity: str | None


class ChannelOut(BaseModel):
    id: int
    name: str
    kind: str
    address: str
    address_masked: bool
    mention: str | None
    signed: bool
    managed: bool
    routes: list[RouteOut]
    created_at: datetime

    @classmethod
    def of(cls, view: channels.View, actor: Actor) -> ChannelOut:
        channel = view.channel
        # Admins manage the webhooks and need to check them; everyone else only needs to recognise them.
        show = actor.scope == Scope.ADMIN
        return cls(
            id=channel.id,
            name=channel.name,
            kind=channel.kind,
            address=channel.address if show else contacts.masked(channel.kind, channel.address),
            address_masked=not show,
            mention=channel.mention,
            signed=channel.signing_secret is not None,
            managed=channel.managed,
            routes=[RouteOut(service=r.service, events=r.events, min_severity=r.min_severity) for r in view.routes],
            created_at=channel.created_at,
        )


def _routes(routes: list[RouteIn]) -> list[channels.RouteSpec]:
    return [channels.RouteSpec(r.events, r.service, r.min_severity) for r in routes]


def _out(session: DbSession, channel: models.Channel, actor: Actor) -> ChannelOut:
    [view] = channels.views(session, [channel])
    return ChannelOut.of(view, actor)


@router.get("/channels", response_model=list[ChannelOut])
def list_channels(actor: Reader, session: DbSession) -> list[ChannelOut]:
    return [ChannelOut.of(view, actor) for view in channels.views(session, channels.list_channels(session))]


@router.post("/channels", status_code=201, response_model=ChannelOut)
def create_channel(body: CreateChannel, actor: Admin, session: DbSession, clock: CurrentClock) -> ChannelOut:
    channel = channels.create_channel(
        session,
        actor,
        clock.now(),
        name=body.name,
        kind=body.kind,
        address=body.address,
        mention=body.mention,
        signing_secret=body.signing_secret,
        routes=_routes(body.routes),
    )
    session.commit()
    return _out(session, channel, actor)


@router.get("/channels/{name}", response_model=ChannelOut)
def show_channel(name: str, actor: Reader, session: DbSession) -> ChannelOut:
    return _out(session, channels.get_channel(session, name), actor)


@router.patch("/channels/{name}", response_model=ChannelOut)
def update_channel(name: str, body: ChannelChange, actor: Admin, session: DbSession, clock: CurrentClock) -> ChannelOut:
    given = body.model_fields_set
    channel = channels.update_channel(
        session,
        actor,
        clock.now(),
        name,
        kind=body.kind,
        address=body.address,
        # Given as null: removed (the service's ""); left out: kept (None).
        mention=(body.mention or "") if "mention" in given else None,
        signing_secret=(body.signing_secret or "") if "signing_secret" in given else None,
        routes=_routes(body.routes) if body.routes is not None else None,
    )
    session.commit()
    return _out(session, channel, actor)


@router.delete("/channels/{name}", status_code=204)
def delete_channel(name: str, actor: Admin, session: DbSession, clock: CurrentClock) -> Response:
    channels.delete_channel(session, actor, clock.now(), name)
    session.commit()
    return Response(status_code=204)


@router.post("/channels/{name}/test", status_code=201, response_model=NotificationOut)
def send_test(name: str, actor: Writer, session: DbSession, clock: CurrentClock) -> NotificationOut:
    notification = channels.send_test(session, actor, clock.now(), name)
    session.commit()
    [view] = notifications.views(session, [notification])
    return NotificationOut.of(view)
