"""The drills pages: start a drill from the web, follow it and read its report; a drill
incident's page says DRILL."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.services.test_drills import on_call
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.services import drills, incidents


def test_a_responder_starts_a_drill_follows_it_and_stops_it(
    client: TestClient, log_in: LogIn, web_personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    on_call(sessions, clock)
    token = log_in(client, "bob@example.com")
    listing = client.get("/drills")
    assert listing.status_code == 200
    assert 'href="/drills"' in listing.text  # in the navigation
    assert "Start a drill" in listing.text
    assert "first with a policy (api)" in listing.text

    started = client.post(
        "/drills", data={"csrf_token": token, "scenario": "bad-deploy", "service": "api"}, follow_redirects=False
    )
    assert started.status_code == 303, started.text
    assert started.headers["location"] == "/drills/1"
    with sessions() as db:
        incident = drills.get(db, 1).incident
        assert incident is not None
        ref = incident.human_id
        clock.advance(timedelta(minutes=4))
        incidents.change_status(db, web_personas.bob.actor, clock.now(), incident, "acknowledged")
        db.commit()

    page = client.get("/drills/1")
    assert page.status_code == 200
    assert "Drill 1: Bad deploy" in page.text
    assert ref in page.text
    assert "acknowledge" in page.text
    assert "4m" in page.text
    assert "Stop the drill" in page.text

    incident_page = client.get(f"/incidents/{ref}")
    assert "drill-banner" in incident_page.text
    assert f'href="/drills/incident/{ref}"' in incident_page.text
    follow = client.get(f"/drills/incident/{ref}", follow_redirects=False)
    assert follow.headers["location"] == "/drills/1"

    stopped = client.post("/drills/1/stop", data={"csrf_token": token}, follow_redirects=False)
    assert stopped.status_code == 303
    after = client.get("/drills/1").text
    assert "canceled" in after
    assert "Stop the drill" not in after


def test_a_viewer_reads_drills_and_cannot_start_one(
    client: TestClient, log_in: LogIn, web_personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    on_call(sessions, clock)
    with sessions() as db:
        drills.start(db, web_personas.bob.actor, clock.now(), scenario="auth-broken")
        db.commit()
    token = log_in(client, "charlie@example.com")
    listing = client.get("/drills")
    assert "auth-broken" in listing.text
    assert "Start a drill" not in listing.text
    refused = client.post("/drills", data={"csrf_token": token, "scenario": "auth-broken"}, follow_redirects=False)
    assert refused.status_code == 403


def test_a_bad_start_re_renders_the_form_with_the_reason(
    client: TestClient, log_in: LogIn, web_personas: Personas
) -> None:
    token = log_in(client, "bob@example.com")
    answer = client.post("/drills", data={"csrf_token": token, "scenario": "database-outage"})
    assert answer.status_code == 422
    assert "no service has an escalation policy" in answer.text


def test_a_real_incident_has_no_drill_banner(
    client: TestClient, log_in: LogIn, web_personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        incident = incidents.declare(
            db, web_personas.bob.actor, clock.now(), title="Checkout 500s", severity="P1", services=["api"]
        )
        db.commit()
    log_in(client, "bob@example.com")
    assert "drill-banner" not in client.get(f"/incidents/{incident.human_id}").text
    assert client.get(f"/drills/incident/{incident.human_id}").status_code == 404
