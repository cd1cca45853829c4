from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.services.test_escalations import declare, engine, pages, run_until, seed
from tocsin.clock import FrozenClock
from tocsin.services import ack_links, incidents
from tocsin.storage.models import AckLink, Notification
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import incidents as repo


def link_for_bob(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> tuple[str, str]:
    with sessions() as db:
        incident = incidents.declare(db, personas.alice.actor, clock.now(), title="Checkout 500s", severity="P1")
        bob = directory.user_by_email(db, personas.bob.email)
        assert bob is not None
        token = ack_links.create(db, incident, bob, clock.now())
        db.commit()
        return incident.human_id, token


def status_of(sessions: sessionmaker[Session], human_id: str) -> str:
    with sessions() as db:
        return incidents.get(db, human_id).status


def test_get_shows_a_form_and_changes_nothing(
    client: TestClient, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    human_id, token = link_for_bob(sessions, personas, clock)
    for _ in range(2):  # a mail scanner, then the person
        answer = client.get(f"/ack/{token}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        assert '<form method="post">' in answer.text
        assert "Acknowledge as Bob Responder" in answer.text
        assert human_id in answer.text
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert status_of(sessions, human_id) == "triggered"
    with sessions() as db:
        assert db.scalar(select(AckLink.used_at)) is None


def test_post_acknowledges_once_as_the_links_user_and_the_timeline_says_who(
    client: TestClient, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    human_id, token = link_for_bob(sessions, personas, clock)
    clock.advance(timedelta(minutes=3))
    answer = client.post(f"/ack/{token}")
    assert answer.status_code == 200
    assert f"Acknowledged {human_id} as bob" in answer.text
    assert status_of(sessions, human_id) == "acknowledged"
    with sessions() as db:
        incident = incidents.get(db, human_id)
        [entry] = [e for e in repo.timeline(db, incident.id) if e.kind == "status"]
        assert (entry.actor_name, entry.summary) == (personas.bob.email, "Status triggered → acknowledged: via link")
        assert entry.at == clock.now()

    again = client.post(f"/ack/{token}")
    assert again.status_code == 410
    assert "already used" in again.text
    assert client.get(f"/ack/{token}").status_code == 410


def test_an_expired_link_is_gone_and_acknowledges_nothing(
    client: TestClient, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    human_id, token = link_for_bob(sessions, personas, clock)
    clock.advance(timedelta(hours=24))
    for answer in (client.get(f"/ack/{token}"), client.post(f"/ack/{token}")):
        assert answer.status_code == 410
        assert "expired" in answer.text
    assert status_of(sessions, human_id) == "triggered"


def test_an_unknown_token_is_not_found(client: TestClient, personas: Personas) -> None:
    assert client.get("/ack/not-a-token").status_code == 404
    assert client.post("/ack/not-a-token").status_code == 404


def test_a_link_for_an_incident_someone_else_acknowledged_says_so(
    client: TestClient, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    human_id, token = link_for_bob(sessions, personas, clock)
    with sessions() as db:
        incidents.change_status(db, personas.alice.actor, clock.now(), incidents.get(db, human_id), "acknowledged")
        db.commit()
    answer = client.post(f"/ack/{token}")
    assert answer.status_code == 200
    assert f"{human_id} was already acknowledged" in answer.text


def test_the_link_in_a_page_stops_the_escalation(
    client: TestClient, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    incident_id = declare(sessions, personas, clock)
    runner = engine(sessions, clock)
    run_until(runner, clock, 1)
    with sessions() as db:
        row = db.scalars(select(Notification).where(Notification.incident_id == incident_id)).first()
        assert row is not None
        ack_url = row.payload["ack_url"]
    answer = client.post(urlsplit(ack_url).path)
    assert answer.status_code == 200, answer.text
    run_until(runner, clock, 30)
    assert pages(sessions, incident_id) == [("bob", "discord", 0, "canceled"), ("bob", "email", 2, "canceled")]
