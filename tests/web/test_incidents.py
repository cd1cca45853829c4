"""The incident page: what a responder sees and does, and what a viewer may not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.web_pages import buttons, declare, post_forms, text_of
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.storage.models import Incident, RoleAssignment, TimelineEntry


@pytest.fixture
def incident(sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas) -> str:
    return declare(sessions, clock.now(), "Checkout is down", "P1", impact="No one can pay")


def _incident(sessions: sessionmaker[Session], human_id: str) -> Incident:
    with sessions() as db:
        row = db.scalar(select(Incident).where(Incident.human_id == human_id))
        assert row is not None
        db.expunge(row)
        return row


def _timeline(sessions: sessionmaker[Session], human_id: str) -> list[TimelineEntry]:
    with sessions() as db:
        incident_id = db.scalar(select(Incident.id).where(Incident.human_id == human_id))
        rows = list(
            db.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == incident_id).order_by(TimelineEntry.id))
        )
        db.expunge_all()
        return rows


def test_the_page_shows_the_incident_with_its_clocks(
    client: TestClient, log_in: LogIn, incident: str, clock: FrozenClock
) -> None:
    log_in(client, "charlie@example.com")
    clock.advance(timedelta(minutes=20))
    page = text_of(client.get(f"/incidents/{incident}").text)
    assert "Checkout is down" in page
    assert "P1" in page
    assert "triggered" in page
    assert "Impact: No one can pay" in page
    assert "Open for 20m" in page
    assert "Acknowledge: overdue by 5m" in page  # P1: acknowledge within 15 minutes
    assert "Resolve: due in 3h 40m" in page
    assert "Next update: overdue by 0s" not in page
    assert "Next update: due in 10m" in page  # every 30 minutes from the declaration


def test_a_viewer_sees_the_page_but_no_action_buttons(client: TestClient, log_in: LogIn, incident: str) -> None:
    log_in(client, "charlie@example.com")
    html = client.get(f"/incidents/{incident}").text
    assert "Checkout is down" in html
    assert post_forms(html) == ["/logout"]
    assert buttons(html) == ["Log out"]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("acknowledge", {}),
        ("resolve", {}),
        ("status", {"status": "investigating"}),
        ("severity", {"severity": "P0"}),
        ("roles", {"role": "commander", "assignee": "charlie@example.com"}),
        ("notes", {"text": "looking"}),
        ("updates", {"text": "we are on it", "public": "true"}),
        ("edit", {"title": "Renamed"}),
    ],
)
def test_a_viewer_cannot_act_on_an_incident(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session], path: str, data: dict[str, str]
) -> None:
    token = log_in(client, "charlie@example.com")
    response = client.post(f"/incidents/{incident}/{path}", data={"csrf_token": token, **data}, follow_redirects=False)
    assert response.status_code == 403
    assert "this needs the responder role" in response.text
    assert [e.kind for e in _timeline(sessions, incident)] == ["declared"]
    assert _incident(sessions, incident).title == "Checkout is down"


def test_an_action_without_the_csrf_token_is_refused(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session]
) -> None:
    log_in(client, "bob@example.com")
    response = client.post(f"/incidents/{incident}/acknowledge", follow_redirects=False)
    assert response.status_code == 403
    assert _incident(sessions, incident).status == "triggered"


def test_a_responder_sees_big_acknowledge_and_resolve_buttons(client: TestClient, log_in: LogIn, incident: str) -> None:
    log_in(client, "bob@example.com")
    html = client.get(f"/incidents/{incident}").text
    assert f"/incidents/{incident}/acknowledge" in post_forms(html)
    assert '<button type="submit" class="big primary">Acknowledge</button>' in html
    assert '<button type="submit" class="big">Resolve</button>' in html


def test_an_acknowledge_from_the_page_lands_on_the_timeline_with_bobs_name(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    token = log_in(client, "bob@example.com")
    clock.advance(timedelta(minutes=3))
    response = client.post(f"/incidents/{incident}/acknowledge", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/incidents/{incident}#status"
    html = client.get(response.headers["location"]).text
    page = text_of(html)
    assert "acknowledged" in page
    assert "Status triggered → acknowledged Bob Responder" in page  # the entry and who made it
    assert "Acknowledge: met" in page
    assert ">Acknowledge</button>" not in html  # done: the button is gone, Resolve stays
    assert ">Resolve</button>" in html
    [_, entry] = _timeline(sessions, incident)
    assert (entry.kind, entry.actor_name) == ("status", "Bob Responder")
    assert _incident(sessions, incident).acknowledged_at == clock.now()


def test_resolving_from_the_page_stops_the_clocks(
    client: TestClient, log_in: LogIn, incident: str, clock: FrozenClock
) -> None:
    token = log_in(client, "bob@example.com")
    clock.advance(timedelta(minutes=30))
    client.post(f"/incidents/{incident}/resolve", data={"csrf_token": token})
    clock.advance(timedelta(hours=5))
    page = text_of(client.get(f"/incidents/{incident}").text)
    assert "resolved" in page
    assert "Lasted 30m" in page
    assert "Resolve: met" in page
    assert "Next update" not in page


def test_the_status_control_offers_every_allowed_move_and_records_the_note(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "bob@example.com")
    client.post(
        f"/incidents/{incident}/status", data={"csrf_token": token, "status": "mitigating", "note": "rolled back"}
    )
    html = client.get(f"/incidents/{incident}").text
    assert "Status triggered → mitigating: rolled back" in text_of(html)
    options = html.split('id="status-to"')[1].split("</select>")[0]
    assert [
        o
        for o in (
            "triggered",
            "acknowledged",
            "investigating",
            "identified",
            "mitigating",
            "monitoring",
            "resolved",
            "canceled",
        )
        if f'value="{o}"' in options
    ] == [
        "monitoring",
        "resolved",
        "canceled",
    ]


def test_a_refused_move_shows_why_next_to_the_status_control(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "bob@example.com")
    client.post(f"/incidents/{incident}/status", data={"csrf_token": token, "status": "monitoring"})
    response = client.post(
        f"/incidents/{incident}/status", data={"csrf_token": token, "status": "identified", "note": "hm"}
    )
    assert response.status_code == 409
    assert "cannot move back from monitoring to identified" in text_of(response.text)
    assert 'value="hm"' in response.text  # what was typed is kept
    assert _incident(sessions, incident).status == "monitoring"


def test_changing_the_severity_moves_the_targets(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "bob@example.com")
    response = client.post(
        f"/incidents/{incident}/severity",
        data={"csrf_token": token, "severity": "P0", "reason": "all regions"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = text_of(client.get(f"/incidents/{incident}").text)
    assert "Severity P1 → P0: all regions" in page
    assert "Acknowledge: due in 5m" in page
    assert _incident(sessions, incident).severity == "P0"


def test_a_public_update_is_marked_public_and_a_note_internal(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "bob@example.com")
    client.post(
        f"/incidents/{incident}/updates", data={"csrf_token": token, "text": "We found the cause", "public": "true"}
    )
    client.post(f"/incidents/{incident}/updates", data={"csrf_token": token, "text": "Only for us"})
    client.post(f"/incidents/{incident}/notes", data={"csrf_token": token, "text": "db-1 looks odd"})
    page = text_of(client.get(f"/incidents/{incident}").text)
    assert "update public 2026-11-23 09:00:00 We found the cause Bob Responder" in page
    assert "update internal 2026-11-23 09:00:00 Only for us" in page
    assert "note" in page
    assert "db-1 looks odd" in page
    entries = _timeline(sessions, incident)
    assert [(e.kind, e.data.get("public")) for e in entries[1:]] == [
        ("update", True),
        ("update", False),
        ("note", None),
    ]


def test_an_empty_note_is_refused_next_to_its_field(client: TestClient, log_in: LogIn, incident: str) -> None:
    token = log_in(client, "bob@example.com")
    response = client.post(f"/incidents/{incident}/notes", data={"csrf_token": token, "text": "  "})
    assert response.status_code == 422
    assert '<p class="error" role="alert" id="note-error">a note needs text</p>' in response.text


def test_roles_are_assigned_and_handed_off_with_history(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    token = log_in(client, "bob@example.com")
    client.post(
        f"/incidents/{incident}/roles", data={"csrf_token": token, "role": "commander", "assignee": "bob@example.com"}
    )
    clock.advance(timedelta(minutes=10))
    client.post(
        f"/incidents/{incident}/roles", data={"csrf_token": token, "role": "commander", "assignee": "alice@example.com"}
    )
    page = text_of(client.get(f"/incidents/{incident}").text)
    assert "Incident commander Alice Admin since 09:10" in page
    assert "Hand-off history (1)" in page
    assert "Bob Responder — Incident commander, 2026-11-23 09:00 → 2026-11-23 09:10" in page
    assert "Incident commander: Alice Admin (handed over from bob@example.com)" in page
    with sessions() as db:
        assert len(db.scalars(select(RoleAssignment)).all()) == 2


def test_editing_title_impact_and_services(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "bob@example.com")
    response = client.post(
        f"/incidents/{incident}/edit",
        data={"csrf_token": token, "title": "Checkout and web down", "impact": "Everyone", "services": ["api", "web"]},
    )
    assert response.status_code == 200
    assert "Checkout and web down" in text_of(response.text)
    edited = _incident(sessions, incident)
    assert (edited.title, edited.impact) == ("Checkout and web down", "Everyone")
    with sessions() as db:
        row = db.scalar(select(Incident).where(Incident.human_id == incident))
        assert row is not None
        assert [s.key for s in row.services] == ["api", "web"]
    refused = client.post(f"/incidents/{incident}/edit", data={"csrf_token": token, "title": " ", "services": ["api"]})
    assert refused.status_code == 422
    assert "title must not be empty" in refused.text


def test_the_live_timeline_answers_nothing_until_there_is_something_new(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "bob@example.com")
    html = client.get(f"/incidents/{incident}").text
    assert 'hx-get="/incidents/' + incident + '/timeline"' in html
    assert 'hx-trigger="every 5s"' in html
    [declared] = _timeline(sessions, incident)
    hx = {"HX-Request": "true"}
    quiet = client.get(f"/incidents/{incident}/timeline", params={"newest": str(declared.id)}, headers=hx)
    assert quiet.status_code == 204

    client.post(f"/incidents/{incident}/acknowledge", data={"csrf_token": token})
    fresh = client.get(f"/incidents/{incident}/timeline", params={"newest": str(declared.id)}, headers=hx)
    assert fresh.status_code == 200
    assert "Status triggered → acknowledged" in text_of(fresh.text)
    assert 'id="incident-state" class="card" hx-swap-oob="true"' in fresh.text  # the header follows
    newest = _timeline(sessions, incident)[-1].id
    assert f'id="timeline-newest" name="newest" value="{newest}"' in fresh.text


def test_the_timeline_pages_back_fifty_at_a_time(
    client: TestClient, log_in: LogIn, incident: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "bob@example.com")
    for n in range(55):
        client.post(f"/incidents/{incident}/notes", data={"csrf_token": token, "text": f"note {n:02d}"})
    html = client.get(f"/incidents/{incident}").text
    page = text_of(html)
    assert "note 54" in page
    assert "note 05" in page
    assert "note 04" not in page
    older = html.split('href="/incidents/' + incident + "?before=")[1].split("#")[0]
    back = text_of(client.get(f"/incidents/{incident}", params={"before": older}).text)
    assert "note 04" in back
    assert "Declared P1" in back
    assert "note 05" not in back
    assert "Back to the latest entries" in back


def test_an_unknown_incident_is_a_404_page(client: TestClient, log_in: LogIn, web_personas: Personas) -> None:
    log_in(client, "charlie@example.com")
    response = client.get("/incidents/INC-2026-01-01-999")
    assert response.status_code == 404
    assert "no incident" in text_of(response.text)
