"""Team channels and their routes: what is accepted, and errors that name the field."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import channels, directory
from tocsin.services.actor import Actor
from tocsin.services.channels import RouteSpec
from tocsin.storage import models

SYSTEM = Actor.system("tests")
WEBHOOK = "https://discord.com/api/webhooks/1/s3cr3t"
SECRET = "0123456789abcdef-signing"


def create(
    session: Session, clock: FrozenClock, name: str = "alerts", routes: Sequence[RouteSpec] = (), **fields: str
) -> models.Channel:
    return channels.create_channel(
        session,
        SYSTEM,
        clock.now(),
        name=name,
        kind=fields.get("kind", "discord"),
        address=fields.get("address", WEBHOOK),
        mention=fields.get("mention"),
        signing_secret=fields.get("signing_secret"),
        routes=routes,
    )


@pytest.mark.usefixtures("personas")
def test_a_channel_keeps_its_routes_in_order_with_service_keys(session: Session, clock: FrozenClock) -> None:
    create(
        session,
        clock,
        routes=[
            RouteSpec(["incident.*", "incident.*", "deploy.failed"], min_severity="P1"),
            RouteSpec(["crash.*"], service="api"),
        ],
    )
    session.commit()
    [view] = channels.views(session, channels.list_channels(session))
    assert (view.channel.name, view.channel.kind, view.channel.managed) == ("alerts", "discord", False)
    assert view.routes == [
        channels.RouteView(None, ["incident.*", "deploy.failed"], "P1"),  # a pattern given twice is kept once
        channels.RouteView("api", ["crash.*"], None),
    ]


@pytest.mark.usefixtures("personas")
@pytest.mark.parametrize(
    ("fields", "routes", "field", "message"),
    [
        ({"kind": "sms"}, [], "kind", "'sms' is not one of discord, slack, email, webhook, apprise"),
        ({"address": "http://discord.com/x"}, [], "address", "a discord channel needs an https URL"),
        ({"kind": "email", "address": "team"}, [], "address", "'team' is not an e-mail address"),
        ({"kind": "apprise", "address": "tgram"}, [], "address", "an Apprise channel needs an Apprise URL"),
        ({"mention": "<@&1>"}, [], "mention", "'<@&1>' is not a Discord or Slack id"),
        ({"kind": "email", "address": "t@example.com", "mention": "U1"}, [], "mention", "only Discord and Slack"),
        ({"signing_secret": SECRET}, [], "signing_secret", "only webhook channels sign what they send, not discord"),
        (
            {"kind": "webhook", "address": "https://hooks.example.com/x", "signing_secret": "short"},
            [],
            "signing_secret",
            "a signing secret is 16-256 printable ASCII characters",
        ),
        ({}, [RouteSpec([])], "routes[0].events", "a route needs at least one event pattern"),
        ({}, [RouteSpec(["*"]), RouteSpec(["incident.*", "incident.resolve"])], "routes[1].events[1]", "unknown event"),
        ({}, [RouteSpec(["*"], service="payments")], "routes[0].service", "unknown service 'payments'"),
        ({}, [RouteSpec(["*"], min_severity="SEV1")], "routes[0].min_severity", "unknown severity 'SEV1'; the P"),
        ({"name": "#alerts"}, [], "name", "'#alerts' is not a valid key"),
    ],
)
def test_what_is_refused_is_named_by_its_field(
    session: Session, clock: FrozenClock, fields: dict[str, str], routes: list[RouteSpec], field: str, message: str
) -> None:
    given = dict(fields)  # the parameters are shared by both databases' runs
    name = given.pop("name", "alerts")
    with pytest.raises(ValidationFailed) as caught:
        create(session, clock, name, routes, **given)
    assert caught.value.field == field
    assert caught.value.message.startswith(message)


@pytest.mark.usefixtures("personas")
def test_an_archived_service_cannot_be_routed(session: Session, clock: FrozenClock) -> None:
    directory.get_service(session, "web").archived_at = clock.now()
    with pytest.raises(ValidationFailed, match="unknown service 'web'"):
        create(session, clock, routes=[RouteSpec(["*"], service="web")])


@pytest.mark.usefixtures("personas")
def test_names_are_unique(session: Session, clock: FrozenClock) -> None:
    create(session, clock)
    with pytest.raises(Conflict) as caught:
        create(session, clock)
    assert caught.value.field == "name"


@pytest.mark.usefixtures("personas")
def test_an_update_changes_what_is_given_and_checks_the_result(session: Session, clock: FrozenClock) -> None:
    create(session, clock, mention="&42", routes=[RouteSpec(["*"])])
    with pytest.raises(ValidationFailed) as caught:
        # An e-mail channel cannot keep the Discord mention.
        channels.update_channel(session, SYSTEM, clock.now(), "alerts", kind="email", address="ops@example.com")
    assert caught.value.field == "mention"
    channel = channels.update_channel(
        session, SYSTEM, clock.now(), "alerts", kind="email", address="ops@example.com", mention=""
    )
    assert (channel.kind, channel.address, channel.mention) == ("email", "ops@example.com", None)
    assert [route.events for route in channel.routes] == [["*"]]  # routes left out: kept
    channels.update_channel(session, SYSTEM, clock.now(), "alerts", routes=[RouteSpec(["deploy.*"], service="web")])
    session.commit()
    [view] = channels.views(session, [channels.get_channel(session, "alerts")])
    assert view.routes == [channels.RouteView("web", ["deploy.*"], None)]
    assert session.scalars(select(models.ChannelRoute)).all() == view.channel.routes  # the old route is gone


@pytest.mark.usefixtures("personas")
def test_the_audit_log_never_holds_the_address_or_the_secret(session: Session, clock: FrozenClock) -> None:
    create(session, clock, "hooks", kind="webhook", address="https://hooks.example.com/s3cr3t", signing_secret=SECRET)
    channels.update_channel(session, SYSTEM, clock.now(), "hooks", address="https://hooks.example.com/n3w-s3cr3t")
    session.commit()
    events = session.scalars(
        select(models.AuditEvent).where(models.AuditEvent.object_type == "channel").order_by(models.AuditEvent.id)
    ).all()
    assert [(e.action, e.detail) for e in events] == [
        ("create", {"kind": "webhook", "routes": 0}),
        ("update", {"changed": ["address"]}),
    ]


@pytest.mark.usefixtures("personas")
def test_deleting_a_channel_cancels_the_posts_not_yet_sent(session: Session, clock: FrozenClock) -> None:
    create(session, clock)
    waiting = channels.send_test(session, SYSTEM, clock.now(), "alerts")
    session.commit()
    channels.delete_channel(session, SYSTEM, clock.now() + timedelta(seconds=1), "alerts")
    session.commit()
    session.expire_all()
    row = session.get(models.Notification, waiting.id)
    assert row is not None
    assert row.status == "canceled"
    with pytest.raises(NotFound):
        channels.get_channel(session, "alerts")
    assert session.scalars(select(models.ChannelRoute)).all() == []


@pytest.mark.usefixtures("personas")
def test_a_test_post_is_one_pending_row_for_the_channel_due_now(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    channel = create(session, clock)
    post = channels.send_test(session, personas.bob.actor, clock.now(), "alerts")
    assert (post.kind, post.channel, post.channel_id, post.status) == ("test", "discord", channel.id, "pending")
    assert (post.user_id, post.contact_method_id, post.due_at) == (None, None, clock.now())
    assert post.payload["title"] == "Test post"
    assert ["Sent by", "bob@example.com"] in post.payload["fields"]
    with pytest.raises(NotFound):
        channels.send_test(session, SYSTEM, clock.now(), "deploys")
