"""Channel posts: what happened on the timeline and in the changes table becomes notification
rows for the team channels whose routes match. Sending them is the deliveries module's job;
these tests look at the rows.

The team: #alerts hears every incident event at P2 or above, #deploys hears deploys and
changes, #web-incidents hears incidents on `web` only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import START, Personas
from tocsin.clock import FrozenClock
from tocsin.domain.timeline import EntryKind
from tocsin.engine.escalations import Escalations
from tocsin.services import changes, channel_posts, channels, contacts, incidents, policies
from tocsin.services.actor import Actor
from tocsin.services.channels import RouteSpec
from tocsin.services.policies import LevelSpec, TargetSpec
from tocsin.storage import models

SYSTEM = Actor.system("tests")
PUBLIC_URL = "https://tocsin.example"
Post = tuple[str, str, str]  # channel, event, title


@pytest.fixture
def team(sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas) -> None:
    with sessions() as db:
        channels.create_channel(
            db, SYSTEM, clock.now(), name="alerts", kind="discord", address="https://discord.com/api/webhooks/1/a",
            mention="&42", routes=[RouteSpec(["incident.*"], min_severity="P2")],
        )  # fmt: skip
        channels.create_channel(
            db, SYSTEM, clock.now(), name="deploys", kind="slack", address="https://hooks.slack.com/services/T/B/x",
            routes=[RouteSpec(["deploy.*", "change.*"])],
        )  # fmt: skip
        channels.create_channel(
            db, SYSTEM, clock.now(), name="web-incidents", kind="webhook", address="https://hooks.example.com/web",
            routes=[RouteSpec(["incident.declared", "incident.resolved"], service="web")],
        )  # fmt: skip
        db.commit()


def run(sessions: sessionmaker[Session], clock: FrozenClock) -> channel_posts.Cycle:
    with sessions() as db:
        cycle = channel_posts.post_due(db, clock.now(), public_url=PUBLIC_URL)
        db.commit()
        return cycle


def rows(sessions: sessionmaker[Session]) -> list[models.Notification]:
    with sessions() as db:
        return list(
            db.scalars(
                select(models.Notification).where(models.Notification.kind == "post").order_by(models.Notification.id)
            )
        )


def posts(sessions: sessionmaker[Session]) -> list[Post]:
    with sessions() as db:
        names = {channel.id: channel.name for channel in channels.list_channels(db)}
    return [(names[row.channel_id or 0], row.step, row.payload["title"]) for row in rows(sessions)]


def declare(
    sessions: sessionmaker[Session], clock: FrozenClock, severity: str = "P1", service: str = "api", **extra: Any
) -> str:
    with sessions() as db:
        incident = incidents.declare(
            db, SYSTEM, clock.now(), title="Checkout 500s", severity=severity, services=[service], **extra
        )
        db.commit()
        return incident.human_id


def step(sessions: sessionmaker[Session], clock: FrozenClock, ref: str, action: str, value: str) -> None:
    clock.advance(timedelta(seconds=10))
    with sessions() as db:
        incident = incidents.get(db, ref)
        if action == "status":
            incidents.change_status(db, SYSTEM, clock.now(), incident, value)
        elif action == "severity":
            incidents.change_severity(db, SYSTEM, clock.now(), incident, value)
        elif action == "update":
            incidents.post_update(db, SYSTEM, clock.now(), incident, value)
        else:
            incidents.add_note(db, SYSTEM, clock.now(), incident, value)
        db.commit()


@pytest.mark.usefixtures("team")
def test_a_declared_incident_is_posted_where_its_routes_say_in_the_shape_of_a_page(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ref = declare(sessions, clock)
    assert run(sessions, clock) == channel_posts.Cycle(posts=1, read=1)
    [row] = rows(sessions)
    with sessions() as db:
        alerts = channels.get_channel(db, "alerts")
        entry = db.scalars(select(models.TimelineEntry).where(models.TimelineEntry.kind == "declared")).one()
    assert row.idempotency_key == f"post:{alerts.id}:timeline:{entry.id}"
    assert (row.kind, row.channel, row.channel_id, row.step, row.status) == (
        "post", "discord", alerts.id, "incident.declared", "pending",
    )  # fmt: skip
    with sessions() as db:
        incident_id = incidents.get(db, ref).id
    assert (row.user_id, row.contact_method_id, row.incident_id, row.due_at) == (None, None, incident_id, clock.now())
    assert row.payload == {
        "title": "Checkout 500s",
        "text": "Declared P1: Checkout 500s",
        "severity": "P1",
        "severity_rank": 1,
        "incident": ref,
        "url": f"{PUBLIC_URL}/api/v1/incidents/{ref}",
        "fields": [
            ["Event", "Declared"], ["Service", "api"], ["Severity", "P1"], ["Status", "triggered"], ["By", "tests"],
        ],
        "event": "incident.declared",
        "message_kind": "page",
        "mention": True,
        "at": START.isoformat(),
        "drill": False,
    }  # fmt: skip


@pytest.mark.usefixtures("team")
def test_the_response_is_posted_as_it_moves(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    ref = declare(sessions, clock, severity="P2")
    step(sessions, clock, ref, "status", "acknowledged")
    step(sessions, clock, ref, "note", "Looking at the load balancer")  # notes stay in the incident
    step(sessions, clock, ref, "severity", "P1")
    step(sessions, clock, ref, "update", "Rolled back the 14:02 deploy")
    step(sessions, clock, ref, "status", "identified")
    step(sessions, clock, ref, "status", "monitoring")
    step(sessions, clock, ref, "status", "resolved")
    step(sessions, clock, ref, "status", "investigating")
    assert run(sessions, clock).posts == 8
    events = [(row.step, row.payload["message_kind"], row.payload["mention"]) for row in rows(sessions)]
    assert events == [
        ("incident.declared", "page", True),
        ("incident.acknowledged", "acknowledged", False),
        ("incident.severity_changed", "incident_update", False),
        ("incident.update", "incident_update", False),
        ("incident.status_changed", "incident_update", False),
        ("incident.mitigated", "incident_update", False),
        ("incident.resolved", "resolved", False),
        ("incident.reopened", "incident_update", True),
    ]
    by_event = {row.step: row.payload for row in rows(sessions)}
    # Each post says what the event did: the new severity, the status it moved to, the update's text.
    assert by_event["incident.severity_changed"]["severity"] == "P1"
    assert ["Status", "resolved"] in by_event["incident.resolved"]["fields"]
    assert by_event["incident.update"]["text"] == "Rolled back the 14:02 deploy"
    assert by_event["incident.acknowledged"]["severity"] == "P1"  # the incident's severity now


@pytest.mark.usefixtures("team")
def test_the_threshold_and_the_service_keep_channels_quiet(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    declare(sessions, clock, severity="P3", service="api")  # below #alerts' P2, not on web
    declare(sessions, clock, severity="P3", service="web")  # #web-incidents has no threshold
    declare(sessions, clock, severity="P0", service="web")
    run(sessions, clock)
    assert [(channel, event) for channel, event, _ in posts(sessions)] == [
        ("web-incidents", "incident.declared"),
        ("alerts", "incident.declared"),
        ("web-incidents", "incident.declared"),
    ]


@pytest.mark.usefixtures("team")
def test_a_severity_raised_over_the_threshold_is_posted_and_what_came_before_is_not(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ref = declare(sessions, clock, severity="P3")
    step(sessions, clock, ref, "severity", "P2")
    run(sessions, clock)
    assert [(channel, event) for channel, event, _ in posts(sessions)] == [("alerts", "incident.severity_changed")]


@pytest.mark.usefixtures("team")
def test_a_drill_is_marked_as_one_everywhere_a_reader_looks(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    declare(sessions, clock, drill=True)
    run(sessions, clock)
    [row] = rows(sessions)
    assert row.payload["title"] == "DRILL: Checkout 500s"
    assert row.payload["text"].startswith("DRILL, not a real incident.")
    assert row.payload["fields"][0] == ["Drill", "yes: practice, not a real incident"]
    assert row.payload["drill"] is True


@pytest.mark.usefixtures("team")
def test_deploys_and_changes_go_to_the_deploys_channel_whatever_their_service(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        api = db.scalars(select(models.Service).where(models.Service.key == "api")).one()
        changes.record(
            db, clock.now(), service_id=api.id, integration_id=None, summary="Deploy v42 failed: migrations",
            source="github-actions", details={"event": "deploy.failed"},
            links=[{"href": "javascript:alert(1)", "text": "bad"}, {"href": "https://ci.example/run/7", "text": "run"}],
        )  # fmt: skip
        changes.record(db, clock.now(), service_id=None, integration_id=None, summary="Feature flag checkout-v2 on")
        db.commit()
    assert run(sessions, clock) == channel_posts.Cycle(posts=2, read=2)
    first, second = rows(sessions)
    assert (first.step, first.channel) == ("deploy.failed", "slack")
    assert first.payload == {
        "title": "Deploy v42 failed: migrations",
        "text": "Deploy failed on api from github-actions",
        "fields": [["Event", "Deploy failed"], ["Service", "api"], ["Source", "github-actions"]],
        "event": "deploy.failed",
        "message_kind": "post",
        "mention": False,
        "at": START.isoformat(),
        "url": "https://ci.example/run/7",  # the first link a channel can show
    }
    assert (second.step, second.payload["text"], "url" in second.payload) == ("change.recorded", "Change", False)
    assert first.idempotency_key.endswith(":change:1")


@pytest.mark.usefixtures("team")
def test_a_second_cycle_or_a_second_process_posts_nothing_again(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    declare(sessions, clock)
    assert run(sessions, clock).posts == 1
    assert run(sessions, clock) == channel_posts.Cycle(posts=0, read=1)  # read again until it settles
    clock.advance(channel_posts.SETTLE)
    assert run(sessions, clock) == channel_posts.Cycle(posts=0, read=1)
    assert run(sessions, clock) == channel_posts.Cycle(posts=0, read=0)  # settled: the cursor moved past it
    assert len(rows(sessions)) == 1


@pytest.mark.usefixtures("team")
def test_an_alert_storm_is_neither_posted_nor_read(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    ref = declare(sessions, clock)
    with sessions() as db:
        incident = incidents.get(db, ref)
        # As ingestion attaches alerts: one "alert" entry per alert, in one executemany.
        attached = [
            {
                "incident_id": incident.id, "kind": EntryKind.ALERT.value, "at": clock.now(), "actor_id": None,
                "actor_name": "engine", "summary": f"Alert {n} attached", "data": {"event": "attached", "alert_id": n},
            }
            for n in range(5_000)
        ]  # fmt: skip
        db.execute(insert(models.TimelineEntry), attached)
        db.commit()
    step(sessions, clock, ref, "status", "acknowledged")
    assert run(sessions, clock) == channel_posts.Cycle(posts=2, read=2)
    clock.advance(channel_posts.SETTLE)
    run(sessions, clock)
    with sessions() as db:
        cursor = db.get(models.EngineCursor, channel_posts.TIMELINE)
        last = db.scalars(select(models.TimelineEntry.id).order_by(models.TimelineEntry.id.desc()).limit(1)).one()
    assert cursor is not None
    assert cursor.position == last  # past the storm, which was counted by the database alone


@pytest.mark.usefixtures("team")
def test_history_from_before_the_first_cycle_is_not_posted(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    declare(sessions, clock)
    clock.advance(timedelta(hours=1))
    assert run(sessions, clock) == channel_posts.Cycle(posts=0, read=0)
    declare(sessions, clock, severity="P0")
    assert run(sessions, clock).posts == 1


@pytest.mark.usefixtures("personas")
def test_without_routes_nothing_is_read_and_the_cursors_still_move(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    declare(sessions, clock)
    assert run(sessions, clock) == channel_posts.Cycle(posts=0, read=0)
    clock.advance(channel_posts.SETTLE)
    run(sessions, clock)
    with sessions() as db:
        # A channel made now hears what happens from now on, not the incident of an hour ago.
        channels.create_channel(
            db, SYSTEM, clock.now(), name="alerts", kind="email", address="ops@example.com", routes=[RouteSpec(["*"])]
        )
        db.commit()
    clock.advance(timedelta(hours=1))
    assert run(sessions, clock) == channel_posts.Cycle(posts=0, read=0)


@pytest.mark.usefixtures("team")
def test_a_full_batch_is_read_in_pages_and_the_cursor_stops_where_reading_stopped(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    run(sessions, clock)  # the engine was running before: its cursors exist
    for _ in range(5):
        declare(sessions, clock)
    clock.advance(channel_posts.SETTLE)
    with sessions() as db:
        first = channel_posts.post_due(db, clock.now(), public_url=PUBLIC_URL, batch=2, pages=1)
        db.commit()
    assert first == channel_posts.Cycle(posts=2, read=2)
    with sessions() as db:
        second = channel_posts.post_due(db, clock.now(), public_url=PUBLIC_URL, batch=2, pages=2)
        db.commit()
    assert second == channel_posts.Cycle(posts=3, read=3)
    assert len(rows(sessions)) == 5


@pytest.mark.usefixtures("team")
def test_an_escalation_past_the_first_level_is_posted(
    sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas
) -> None:
    with sessions() as db:
        for email in ("alice@example.com", "bob@example.com"):
            contacts.add_contact_method(
                db, SYSTEM, clock.now(), email, name="mail", kind="email", address=email, verified=True
            )
            contacts.add_rule(db, SYSTEM, clock.now(), email, contact_method="mail")
        levels = [
            LevelSpec(300, [TargetSpec("user", "bob@example.com")]),
            LevelSpec(300, [TargetSpec("user", "alice@example.com")]),
        ]
        policies.create_policy(db, SYSTEM, clock.now(), key="api-default", levels=levels)
        policies.set_service_policy(db, SYSTEM, clock.now(), "api", "api-default")
        db.commit()
    declare(sessions, clock)
    paging = Escalations(PUBLIC_URL)
    for _ in range(6):  # an engine cycle a minute
        with sessions() as db:
            paging.run(db, clock)
            db.commit()
        run(sessions, clock)
        clock.advance(timedelta(minutes=1))
    assert [event for _, event, _ in posts(sessions)] == ["incident.declared", "incident.escalated"]
    escalated = rows(sessions)[1].payload
    assert escalated["text"].startswith("Paged alice")
    assert ["Event", "Escalated"] in escalated["fields"]
    assert escalated["mention"] is True


def test_a_late_commit_below_the_highest_id_read_is_still_posted(
    sessions: sessionmaker[Session], clock: FrozenClock, backend: str, team: None
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: ids become visible in order")
    slow_ref, fast_ref = declare(sessions, clock), declare(sessions, clock)
    run(sessions, clock)
    clock.advance(channel_posts.SETTLE)  # both declarations settle: the cursor moves past them
    run(sessions, clock)
    slow = sessions()
    try:
        # The slow transaction takes its id first and commits last.
        incidents.change_status(slow, SYSTEM, clock.now(), incidents.get(slow, slow_ref), "acknowledged")
        slow.flush()
        step(sessions, clock, fast_ref, "status", "acknowledged")
        assert run(sessions, clock).posts == 1
        slow.commit()
    finally:
        slow.close()
    assert run(sessions, clock).posts == 1
    refs = [row.payload["incident"] for row in rows(sessions) if row.step == "incident.acknowledged"]
    assert refs == [fast_ref, slow_ref]


@pytest.mark.usefixtures("team")
def test_stopping_an_incidents_pages_leaves_its_posts_to_go_out(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    """An acknowledgement cancels the pages still pending, not the team channel's posts."""
    ref = declare(sessions, clock)
    assert run(sessions, clock).posts == 1
    step(sessions, clock, ref, "status", "acknowledged")
    step(sessions, clock, ref, "status", "resolved")
    assert run(sessions, clock).posts == 2
    assert [(row.step, row.status) for row in rows(sessions)] == [
        ("incident.declared", "pending"),
        ("incident.acknowledged", "pending"),
        ("incident.resolved", "pending"),
    ]
