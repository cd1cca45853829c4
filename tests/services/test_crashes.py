"""Crash groups and the team's channels, as docs/crashes.md's recipe sets them up: #crashes hears
every crash event, #alerts the incidents that error and fatal crashes open; a warning reaches
#crashes only. Resolving the group resolves its incident, and the channels hear of it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.crashes import Crash, ExceptionInfo, Frame, Level
from tocsin.services import channel_posts, channels, crashes, integrations
from tocsin.services.actor import Actor
from tocsin.services.channels import RouteSpec
from tocsin.services.integrations import IntegrationRef
from tocsin.storage import models

SYSTEM = Actor.system("tests")


@pytest.fixture
def project(sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas) -> IntegrationRef:
    with sessions() as db:
        channels.create_channel(
            db, SYSTEM, clock.now(), name="crashes", kind="discord", address="https://discord.com/api/webhooks/1/c",
            routes=[RouteSpec(["crash.*"])],
        )  # fmt: skip
        channels.create_channel(
            db, SYSTEM, clock.now(), name="alerts", kind="slack", address="https://hooks.slack.com/services/T/B/a",
            routes=[RouteSpec(["incident.*"], min_severity="P2")],
        )  # fmt: skip
        created = integrations.create(db, SYSTEM, clock.now(), service_key="api", kind="sentry")
        db.commit()
        ref = integrations.find_by_key(db, created.key)
    assert ref is not None
    return ref


def crash(type_: str, level: Level, release: str = "api@1.0.0") -> Crash:
    frame = Frame(function="charge", module="billing", in_app=True)
    exception = ExceptionInfo(type=type_, value="boom", frames=(frame,))
    return Crash(event_id=uuid.uuid4().hex, level=level, exceptions=(exception,), release=release)


def receive(sessions: sessionmaker[Session], clock: FrozenClock, ref: IntegrationRef, *found: Crash) -> None:
    with sessions() as db:
        crashes.receive(db, clock.now(), ref, found)
        db.commit()


def posts(sessions: sessionmaker[Session], clock: FrozenClock) -> list[tuple[str, str, str]]:
    with sessions() as db:
        channel_posts.post_due(db, clock.now(), public_url="https://tocsin.example")
        db.commit()
        names = {channel.id: channel.name for channel in channels.list_channels(db)}
        rows = db.scalars(
            select(models.Notification).where(models.Notification.kind == "post").order_by(models.Notification.id)
        )
        return [(names[row.channel_id or 0], row.step, row.payload["title"]) for row in rows]


def test_an_error_pages_into_alerts_and_every_crash_reaches_crashes(
    sessions: sessionmaker[Session], clock: FrozenClock, project: IntegrationRef
) -> None:
    receive(sessions, clock, project, crash("PaymentDeclined", Level.ERROR), crash("SlowQuery", Level.WARNING))
    assert sorted(posts(sessions, clock)) == [
        ("alerts", "incident.declared", "New crash in api: PaymentDeclined: boom"),
        ("crashes", "crash.new", "New crash in api: PaymentDeclined: boom"),
        ("crashes", "crash.new", "New crash in api: SlowQuery: boom"),
    ]
    with sessions() as db:
        (incident,) = db.scalars(select(models.Incident)).all()
        assert incident.severity == "P2"


def test_resolving_the_group_resolves_the_incident_and_a_later_release_brings_it_back(
    sessions: sessionmaker[Session], clock: FrozenClock, project: IntegrationRef
) -> None:
    receive(sessions, clock, project, crash("Fatal", Level.FATAL))
    posts(sessions, clock)
    clock.advance(timedelta(minutes=5))
    with sessions() as db:
        (group,) = crashes.list_groups(db)
        crashes.resolve(db, SYSTEM, clock.now(), group.id, "api@1.0.1")
        db.commit()
        (incident,) = db.scalars(select(models.Incident)).all()
        assert (incident.severity, incident.status) == ("P1", "resolved")
    clock.advance(timedelta(minutes=5))
    receive(sessions, clock, project, crash("Fatal", Level.FATAL, release="api@1.1.0"))
    later = posts(sessions, clock)[2:]
    assert ("crashes", "crash.resolved", "Crash resolved: Fatal: boom") in later
    assert ("alerts", "incident.resolved", "New crash in api: Fatal: boom") in later
    assert ("crashes", "crash.regression", "Crash regressed in api: Fatal: boom (again in api@1.1.0)") in later
    assert ("alerts", "incident.declared", "Crash regressed in api: Fatal: boom (again in api@1.1.0)") in later
