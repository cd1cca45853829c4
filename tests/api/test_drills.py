"""`/api/v1/drills`: a drill run end to end over the API with the clock moved, its report, and
nothing of it on the public status page, its JSON or its subscribers' deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.services.test_drills import engine_cycle, on_call
from tests.web.status_support import declare, live, page, update
from tocsin.clock import FrozenClock
from tocsin.services import status_page_subscribers as subscribers
from tocsin.services.actor import Actor
from tocsin.storage import models

__all__ = ["live", "page"]  # fixtures

PATH = "/api/v1/drills"
PROBLEM = "application/problem+json"
PUBLIC = (
    "/status",
    "/status/history",
    "/status/feed.atom",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
)


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def test_a_drill_runs_end_to_end_and_never_reaches_the_status_page_or_its_subscribers(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    on_call(sessions, clock)
    with sessions() as db:
        subscribers.add_email(db, Actor.system("tests"), clock.now(), "reader@example.com")
        subscribers.plan_notices(db, clock.now(), "https://tocsin.example", settle=timedelta())  # the cursor starts
        db.commit()
    bob = page.bob.headers

    drill = ok(live.post(PATH, json={"scenario": "payment-provider-outage", "service": "api"}, headers=bob), 201)
    assert (drill["scenario"], drill["service"], drill["state"], drill["severity"]) == (
        "payment-provider-outage", "api", "running", "P1",
    )  # fmt: skip
    ref = drill["incident"]
    incident = ok(live.get(f"/api/v1/incidents/{ref}", headers=bob))
    assert incident["drill"] is True
    assert incident["title"].startswith("DRILL: HTTP check payments-api.stripe.example")

    engine_cycle(sessions, clock)
    with sessions() as db:
        pages = db.scalars(select(models.Notification).where(models.Notification.kind == "page")).all()
        bob_id = db.scalar(select(models.User.id).where(models.User.email == "bob@example.com"))
    assert [(p.user_id, p.channel) for p in pages] == [(bob_id, "discord")]

    steps = [
        (2, f"/api/v1/incidents/{ref}/acknowledge", {}),
        (3, f"/api/v1/incidents/{ref}/roles", {"role": "commander", "user": "bob@example.com"}),
        (5, f"/api/v1/incidents/{ref}/updates", {"text": "DRILL-private-words: payments fail"}),
        (20, f"/api/v1/incidents/{ref}/status", {"status": "monitoring"}),
    ]
    for minutes, path, body in steps:
        clock.advance(timedelta(minutes=minutes))
        assert live.post(path, json=body, headers=bob).status_code in (200, 201), path
        if path.endswith("/updates"):
            # A drill's update is never public: the service refuses, so nothing can leak.
            public = {"text": "DRILL-public-words: payments fail", "public": True}
            refused = live.post(path, json=public, headers=bob)
            assert refused.status_code == 409, refused.text

    # While it runs, a real incident with a public update shows that the page and the
    # subscribers do work: they get the real one and nothing of the drill.
    real = declare(sessions, page.alice.actor, clock.now(), "Real: search is slow", "P2", ("web",))
    update(sessions, page.alice.actor, clock.now(), real, "Search is slow; we are on it.", public=True)
    clock.advance(timedelta(minutes=1))
    with sessions() as db:
        subscribers.plan_notices(db, clock.now(), "https://tocsin.example", settle=timedelta())
        db.commit()
        notices = [d.payload for d in subscribers.deliveries(db) if d.kind == "notice"]
    assert len(notices) == 1
    assert "Search is slow" in str(notices[0])
    assert "DRILL" not in str(notices[0])
    for url in PUBLIC:
        answer = live.get(url)
        assert answer.status_code == 200, url
        for secret in ("DRILL", "payments-api", "Checkout", ref):
            assert secret not in answer.text, (url, secret)
    assert "Search is slow; we are on it." in live.get("/api/v2/incidents.json").text
    components = ok(live.get("/api/v2/components.json"))["components"]
    assert {c["name"]: c["status"] for c in components}["API"] == "operational"

    clock.advance(timedelta(minutes=30))
    assert live.post(f"/api/v1/incidents/{ref}/resolve", json={}, headers=bob).status_code == 200
    clock.advance(timedelta(minutes=1))
    with sessions() as db:
        subscribers.plan_notices(db, clock.now(), "https://tocsin.example", settle=timedelta())
        db.commit()
        assert len([d for d in subscribers.deliveries(db) if d.kind == "notice"]) == 1

    shown = ok(live.get(f"{PATH}/{drill['id']}", headers=page.charlie.headers))
    assert (shown["state"], shown["incident_status"]) == ("finished", "resolved")
    report = shown["report"]
    assert [(m["milestone"], m["took_s"], m["target_s"], m["verdict"]) for m in report["measures"]] == [
        ("acknowledge", 120, 900, "met"),
        ("declare", 0, 900, "met"),
        ("commander", 300, 900, "met"),
        ("first update", 600, 1800, "met"),
        ("mitigate", 1800, 14400, "met"),
    ]
    assert (report["met"], report["missed"], report["roles"]) == (5, 0, {"commander": 300})
    [listed] = ok(live.get(PATH, headers=page.charlie.headers))
    assert listed["state"] == "finished"
    assert listed["report"] is None


def test_viewers_read_responders_start_and_stop(
    client: TestClient, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    on_call(sessions, clock)
    body = {"scenario": "auth-broken"}
    assert client.post(PATH, json=body).status_code == 401
    refused = client.post(PATH, json=body, headers=personas.charlie.headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    made = ok(client.post(PATH, json=body, headers=personas.bob.headers), 201)
    assert made["service"] == "api"  # the first with an escalation policy
    scenarios = ok(client.get(f"{PATH}/scenarios", headers=personas.charlie.headers))
    assert [s["key"] for s in scenarios] == ["database-outage", "payment-provider-outage", "auth-broken", "bad-deploy"]
    assert ok(client.get(PATH, headers=personas.charlie.headers))[0]["id"] == made["id"]
    assert client.post(f"{PATH}/{made['id']}/stop", json={}, headers=personas.charlie.headers).status_code == 403

    clock.advance(timedelta(minutes=3))
    stopped = ok(client.post(f"{PATH}/{made['id']}/stop", json={}, headers=personas.bob.headers))
    assert (stopped["state"], stopped["incident_status"]) == ("canceled", "canceled")
    again = client.post(f"{PATH}/{made['id']}/stop", json={}, headers=personas.bob.headers)
    assert again.status_code == 409
    assert again.json()["field"] == "drill"
    assert ok(client.get(PATH, params={"state": "canceled"}, headers=personas.bob.headers))[0]["id"] == made["id"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"scenario": "meteor-strike", "service": "api"}, 422, "scenario"),
        ({"scenario": "bad-deploy", "service": "nope"}, 404, "service"),
        ({"scenario": "bad-deploy", "colour": "red"}, 422, "colour"),
        ({"scenario": "bad-deploy", "service": "web"}, None, None),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    client: TestClient, personas: Personas, body: dict[str, str], status: int | None, field: str | None
) -> None:
    answer = client.post(PATH, json=body, headers=personas.bob.headers)
    if status is None:  # no policy anywhere: still a drill, nobody is paged
        assert answer.status_code == 201, answer.text
        return
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["field"] == field
    assert client.get(f"{PATH}/99", headers=personas.bob.headers).status_code == 404
    assert client.get(PATH, params={"state": "paused"}, headers=personas.bob.headers).json()["field"] == "state"
