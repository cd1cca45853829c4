"""The checklist and hand-off briefings on the incident page: ticked with htmx, refused with the reason."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.web_pages import declare, post_forms, text_of
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.domain.runbooks import Item, Link, Phase, Runbook
from tocsin.services import checklists, incidents, runbooks
from tocsin.services.actor import Actor
from tocsin.storage.models import Notification, RoleBriefing, TimelineEntry

SYSTEM = Actor.system("tests")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def incident(sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas) -> str:
    with sessions() as db:
        runbook = Runbook(
            key="api",
            name="API runbook",
            phases=(
                Phase("Triage", (Item("Check the dashboards", "scribe"), Item("Tell support")), "first 5 minutes"),
            ),
            links=(Link("API wiki", "https://wiki.example.com/api?a=1&b=2"),),
            services=frozenset({"api"}),
        )
        runbooks.create(db, SYSTEM, clock.now(), runbook)
        db.commit()
    return declare(sessions, clock.now(), "Checkout is down", "P1", commander="alice@example.com")


def test_the_page_shows_the_checklist_by_phase_with_its_links(client: TestClient, log_in: LogIn, incident: str) -> None:
    log_in(client, "charlie@example.com")
    html = client.get(f"/incidents/{incident}").text
    text = text_of(html)
    assert "Checklist 0 of 2 done" in text
    assert "From the runbook API runbook (api)." in text
    assert "Triage first 5 minutes" in text
    assert "1. Check the dashboards" in text
    assert 'href="https://wiki.example.com/api?a=1&amp;b=2"' in html
    assert not any("/checklist/" in action for action in post_forms(html))  # a viewer ticks nothing


def test_a_responder_ticks_an_item_with_htmx_and_it_lands_on_the_timeline(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "bob@example.com")
    html = client.get(f"/incidents/{incident}").text
    assert f"/incidents/{incident}/checklist/2/tick" in post_forms(html)
    answer = client.post(f"/incidents/{incident}/checklist/2/tick", headers={**HTMX, "X-CSRF-Token": token})
    assert answer.status_code == 200
    card = text_of(answer.text)
    assert card.startswith("Checklist 1 of 2 done")
    assert "ticked by Bob Responder" in card
    assert f'hx-post="/incidents/{incident}/checklist/2/untick"' in answer.text
    with sessions() as db:
        entry = db.scalars(select(TimelineEntry).order_by(TimelineEntry.id.desc())).first()
        assert entry is not None
        assert (entry.kind, entry.summary) == ("checklist", "Ticked item 2: Tell support (first 5 minutes)")


def test_someone_without_the_role_is_told_why_in_the_card(client: TestClient, log_in: LogIn, incident: str) -> None:
    token = log_in(client, "bob@example.com")
    answer = client.post(f"/incidents/{incident}/checklist/1/tick", headers={**HTMX, "X-CSRF-Token": token})
    assert answer.status_code == 200
    assert "item 1 belongs to the Technical lead / scribe (nobody holds it yet)" in text_of(answer.text)
    plain = client.post(f"/incidents/{incident}/checklist/1/tick", data={"csrf_token": token}, follow_redirects=False)
    assert plain.status_code == 403


def test_without_javascript_the_form_posts_and_comes_back(client: TestClient, log_in: LogIn, incident: str) -> None:
    token = log_in(client, "alice@example.com")
    answer = client.post(f"/incidents/{incident}/checklist/1/tick", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/incidents/{incident}#checklist"
    assert "Checklist 1 of 2 done" in text_of(client.get(f"/incidents/{incident}").text)


def test_a_viewer_cannot_tick(client: TestClient, log_in: LogIn, incident: str) -> None:
    token = log_in(client, "charlie@example.com")
    answer = client.post(f"/incidents/{incident}/checklist/2/tick", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 403


def test_a_handoff_with_a_briefing_from_the_page(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "alice@example.com")
    assert "Hand a role over with a briefing" in client.get(f"/incidents/{incident}").text
    answer = client.post(
        f"/incidents/{incident}/roles",
        data={
            "csrf_token": token,
            "role": "commander",
            "assignee": "bob@example.com",
            "briefing_status": "Checkout down in eu-west",
            "briefing_actions": "Rolled back 1.4.2",
            "briefing_hypothesis": "Connection pool exhausted",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    text = text_of(client.get(f"/incidents/{incident}").text)
    assert "Incident commander → Bob Responder" in text
    assert "Hypothesis Connection pool exhausted" in text
    assert "Briefing: Status: Checkout down in eu-west" in text  # on the timeline entry
    with sessions() as db:
        assert db.scalars(select(RoleBriefing)).one().given_by_name == "Alice Admin"
        assert (
            db.scalars(select(Notification).where(Notification.idempotency_key.startswith("briefing:"))).all() == []
        )  # no contact methods


def test_a_briefing_for_a_role_nobody_holds_is_refused_on_the_page(
    client: TestClient, log_in: LogIn, incident: str
) -> None:
    token = log_in(client, "alice@example.com")
    answer = client.post(
        f"/incidents/{incident}/roles",
        data={"csrf_token": token, "role": "scribe", "assignee": "bob@example.com", "briefing_status": "x"},
    )
    assert answer.status_code == 422
    assert "nobody holds Technical lead / scribe" in text_of(answer.text)


def test_the_card_reads_itself_again_for_a_viewer(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    log_in(client, "charlie@example.com")
    assert f'hx-get="/incidents/{incident}/checklist"' in client.get(f"/incidents/{incident}").text
    with sessions() as db:
        checklists.tick(db, SYSTEM, clock.now(), incidents.get(db, incident), 2)
        db.commit()
    card = client.get(f"/incidents/{incident}/checklist")
    assert card.status_code == 200
    assert text_of(card.text).startswith("Checklist 1 of 2 done")
