"""`tocsin apply` of the `channels` section: addresses from the environment, always masked in the plan."""

from __future__ import annotations

import json
from textwrap import dedent

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.clock import FrozenClock
from tocsin.config_file import Document, InvalidConfig, load
from tocsin.services import channels, config_apply
from tocsin.services.actor import Actor
from tocsin.services.channels import RouteSpec
from tocsin.storage import models

APPLY = config_apply.APPLY_ACTOR
ALERTS_HOOK = "https://discord.com/api/webhooks/1/s3cr3t-t0ken"
SECRET = "hmac-key-0123456789-abcdef"
ENV = {"ALERTS_WEBHOOK": ALERTS_HOOK, "DEV_URL": "https://hooks.example.com/dev", "DEV_SECRET": SECRET}

CHANNELS = """
channels:
  - name: alerts
    kind: discord
    address_env: ALERTS_WEBHOOK
    mention: "&42"
    routes:
      - {events: ["incident.*"], min_severity: P2}
      - {service: api, events: ["crash.*"]}
  - name: dev-events
    kind: webhook
    address_env: DEV_URL
    signing_secret_env: DEV_SECRET
    routes:
      - {events: ["ci.*", "dev.*", "deploy.failed"]}
  - name: deploys
    kind: email
    address: deploys@example.com
    routes:
      - {events: ["deploy.*"]}
"""


def doc(text: str) -> Document:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml").document


def summary(planned: config_apply.Plan) -> list[tuple[str, str, str]]:
    return [(change.action, change.kind, change.key) for change in planned.changes]


def fields(planned: config_apply.Plan, key: str) -> dict[str, object]:
    [change] = [c for c in planned.changes if c.key == key]
    return {f.field: (f.old, f.new) for f in change.fields}


def apply(session: Session, clock: FrozenClock, text: str, env: dict[str, str] = ENV) -> config_apply.Plan:
    planned = config_apply.apply(session, APPLY, clock.now(), doc(text), env=env)
    session.commit()
    return planned


def issues(session: Session, text: str, env: dict[str, str] = ENV) -> list[tuple[str, str]]:
    with pytest.raises(InvalidConfig) as caught:
        config_apply.plan(session, doc(text), env=env)
    return [(issue.field, issue.message) for issue in caught.value.issues]


@pytest.mark.usefixtures("personas")
def test_apply_creates_the_channels_and_the_plan_never_shows_a_secret(session: Session, clock: FrozenClock) -> None:
    planned = apply(session, clock, CHANNELS)
    assert summary(planned) == [
        ("create", "channel", "alerts"),
        ("create", "channel", "dev-events"),
        ("create", "channel", "deploys"),
    ]
    assert fields(planned, "alerts") == {
        "kind": (None, "discord"),
        "address": (None, "https://discord.com/… (from $ALERTS_WEBHOOK)"),
        "mention": (None, "&42"),
        "routes": (None, ["every service: incident.* at P2 or above", "api: crash.*"]),
    }
    assert fields(planned, "dev-events")["signing_secret"] == (None, "(from $DEV_SECRET)")
    shown = json.dumps(planned.as_json())
    assert "s3cr3t" not in shown
    assert SECRET not in shown
    alerts = channels.get_channel(session, "alerts")
    assert (alerts.address, alerts.managed, [r.events for r in alerts.routes]) == (
        ALERTS_HOOK, True, [["incident.*"], ["crash.*"]],
    )  # fmt: skip
    assert channels.get_channel(session, "dev-events").signing_secret == SECRET
    audit = json.dumps([e.detail for e in session.scalars(select(models.AuditEvent))])
    assert "s3cr3t" not in audit
    assert SECRET not in audit


@pytest.mark.usefixtures("personas")
def test_a_second_apply_plans_nothing(session: Session, clock: FrozenClock) -> None:
    apply(session, clock, CHANNELS)
    again = config_apply.plan(session, doc(CHANNELS), now=clock.now(), env=ENV)
    assert again.empty, summary(again)


@pytest.mark.usefixtures("personas")
def test_a_new_address_or_secret_is_an_update_shown_masked(session: Session, clock: FrozenClock) -> None:
    apply(session, clock, CHANNELS)
    rotated = {**ENV, "ALERTS_WEBHOOK": "https://discord.com/api/webhooks/1/n3w-t0ken", "DEV_SECRET": SECRET + "-2"}
    text = CHANNELS.replace("deploys@example.com", "releases@example.com")
    planned = apply(session, clock, text, rotated)
    assert summary(planned) == [
        ("update", "channel", "alerts"),
        ("update", "channel", "dev-events"),
        ("update", "channel", "deploys"),
    ]
    assert fields(planned, "alerts") == {
        "address": ("https://discord.com/…", "https://discord.com/… (from $ALERTS_WEBHOOK)"),
    }
    assert fields(planned, "dev-events") == {"signing_secret": ("(set)", "(from $DEV_SECRET)")}
    # Both addresses mask alike: the plan still says that it changed.
    assert fields(planned, "deploys") == {"address": ("d…@example.com", "r…@example.com")}
    assert "n3w-t0ken" not in json.dumps(planned.as_json())
    assert channels.get_channel(session, "alerts").address.endswith("n3w-t0ken")
    assert channels.get_channel(session, "dev-events").signing_secret == SECRET + "-2"


@pytest.mark.usefixtures("personas")
def test_an_address_that_masks_alike_still_shows_as_changed(session: Session, clock: FrozenClock) -> None:
    apply(session, clock, CHANNELS)
    planned = apply(session, clock, CHANNELS.replace("deploys@example.com", "dev-deploys@example.com"))
    assert fields(planned, "deploys") == {"address": ("d…@example.com", "d…@example.com (changed)")}


@pytest.mark.usefixtures("personas")
def test_routes_mention_and_secret_changes_are_updates(session: Session, clock: FrozenClock) -> None:
    apply(session, clock, CHANNELS)
    text = (
        CHANNELS.replace('    mention: "&42"\n', "")
        .replace('      - {service: api, events: ["crash.*"]}\n', "")
        .replace("    signing_secret_env: DEV_SECRET\n", "")
    )
    planned = apply(session, clock, text)
    assert fields(planned, "alerts") == {
        "mention": ("&42", None),
        "routes": (
            ["every service: incident.* at P2 or above", "api: crash.*"],
            ["every service: incident.* at P2 or above"],
        ),
    }
    assert fields(planned, "dev-events") == {"signing_secret": ("(set)", None)}
    alerts = channels.get_channel(session, "alerts")
    assert (alerts.mention, len(alerts.routes)) == (None, 1)
    assert channels.get_channel(session, "dev-events").signing_secret is None


@pytest.mark.usefixtures("personas")
def test_a_managed_channel_left_out_goes_and_one_made_through_the_api_stays(
    session: Session, clock: FrozenClock
) -> None:
    apply(session, clock, CHANNELS)
    channels.create_channel(
        session, Actor.system("api"), clock.now(), name="handmade", kind="email", address="x@example.com",
        routes=[RouteSpec(["*"])],
    )  # fmt: skip
    session.commit()
    planned = apply(session, clock, "channels: []\n")
    assert summary(planned) == [
        ("delete", "channel", "alerts"),
        ("delete", "channel", "deploys"),
        ("delete", "channel", "dev-events"),
    ]
    assert [c.name for c in channels.list_channels(session)] == ["handmade"]


@pytest.mark.usefixtures("personas")
def test_a_channel_made_through_the_api_that_the_file_names_is_claimed(session: Session, clock: FrozenClock) -> None:
    channels.create_channel(
        session, Actor.system("api"), clock.now(), name="deploys", kind="email", address="deploys@example.com",
        routes=[RouteSpec(["deploy.*"])],
    )  # fmt: skip
    session.commit()
    planned = apply(session, clock, CHANNELS)
    assert fields(planned, "deploys") == {"managed": (False, True)}
    assert channels.get_channel(session, "deploys").managed


@pytest.mark.usefixtures("personas")
def test_missing_variables_are_named_never_their_values(session: Session) -> None:
    assert issues(session, CHANNELS, {"DEV_URL": ENV["DEV_URL"], "DEV_SECRET": "short"}) == [
        ("channels[0].address_env", "environment variable ALERTS_WEBHOOK is not set; apply reads the address there"),
        ("channels[1].signing_secret_env", "environment variable DEV_SECRET holds fewer than 16 characters"),
    ]
    assert issues(session, CHANNELS, {**ENV, "DEV_URL": "ftp://nope"}) == [
        ("channels[1].address_env", "DEV_URL does not hold a usable webhook address"),
    ]
    assert issues(session, CHANNELS.replace("deploys@example.com", "deploys")) == [
        ("channels[2].address", "'deploys' is not an e-mail address"),
    ]


@pytest.mark.usefixtures("personas")
def test_routes_naming_what_does_not_exist_are_refused_with_their_path(session: Session) -> None:
    text = CHANNELS.replace("{service: api,", "{service: payments,").replace("min_severity: P2", "min_severity: SEV2")
    assert issues(session, text) == [
        ("channels[0].routes[0].min_severity", "unknown severity 'SEV2'; the active scheme 'P' has P0, P1, P2, P3"),
        ("channels[0].routes[1].service", "unknown service 'payments'"),
    ]


@pytest.mark.usefixtures("personas")
def test_a_route_to_a_service_the_same_file_archives_is_refused(session: Session, clock: FrozenClock) -> None:
    web = "  - {key: web, name: Web app, team: platform}\n"
    apply(session, clock, "services:\n  - {key: api, name: Public API, team: platform}\n" + web)  # now managed
    assert issues(session, CHANNELS + "services:\n" + web) == [
        ("channels[0].routes[1].service", "service 'api' is not under services, so apply would archive it"),
    ]
