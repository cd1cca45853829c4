"""The incident page: what a responder sees and does, and what a viewer may not."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.web_pages import buttons, declare, post_forms, text_of
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.services import incidents
from tocsin.services.actor import Actor
from tocsin.storage.models import Incident, RoleAssignment, TimelineEntry, User

SYSTEM = Actor.system("tests")


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


# ---- declaring ------------------------------------------------------------------------------


def test_a_responder_declares_an_incident_from_the_form(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session], web_personas: Personas
) -> None:
    token = log_in(client, "bob@example.com")
    form = client.get("/incidents/new").text
    assert 'value="P0"' in form
    assert "Critical: full outage or data loss" in form
    assert '<option value="web">Web app (web)</option>' in form
    response = client.post(
        "/incidents/new",
        data={
            "csrf_token": token,
            "title": "Payments failing",
            "severity": "P0",
            "services": ["api", "web"],
            "impact": "Card payments fail",
            "commander": "alice@example.com",
            "drill": "true",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/incidents/INC-2026-11-23-001"
    page = text_of(client.get(response.headers["location"]).text)
    assert "Payments failing" in page
    assert "drill" in page
    assert "Incident commander Alice Admin" in page
    assert "Declared P0 drill: Payments failing Bob Responder" in page
    declared = _incident(sessions, "INC-2026-11-23-001")
    assert (declared.severity, declared.impact, declared.drill) == ("P0", "Card payments fail", True)


def test_a_declaration_without_a_title_shows_the_form_again_with_the_message(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session], web_personas: Personas
) -> None:
    token = log_in(client, "bob@example.com")
    response = client.post(
        "/incidents/new",
        data={"csrf_token": token, "title": "  ", "severity": "P2", "services": ["web"], "impact": "Slow pages"},
    )
    assert response.status_code == 422
    assert '<p class="error" role="alert" id="title-error">title must not be empty</p>' in response.text
    assert 'aria-invalid="true" aria-describedby="title-error"' in response.text
    assert re.search(r'value="P2" required\s+checked', response.text)  # the choice is kept
    assert "Slow pages" in response.text  # nothing typed is lost
    with sessions() as db:
        assert db.scalar(select(Incident)) is None


def test_an_unknown_severity_is_shown_next_to_the_severity(
    client: TestClient, log_in: LogIn, web_personas: Personas
) -> None:
    token = log_in(client, "bob@example.com")
    response = client.post("/incidents/new", data={"csrf_token": token, "title": "x", "severity": "P9"})
    assert response.status_code == 422
    assert 'id="severity-error">unknown severity' in response.text


def test_a_viewer_cannot_declare(client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]) -> None:
    token = log_in(client, "charlie@example.com")
    assert client.get("/incidents/new").status_code == 403
    response = client.post("/incidents/new", data={"csrf_token": token, "title": "x", "severity": "P1"})
    assert response.status_code == 403
    with sessions() as db:
        assert db.scalar(select(Incident)) is None


# ---- the list -------------------------------------------------------------------------------


def _titles(html: str) -> list[str]:
    return re.findall(r'<td><a href="/incidents/INC-[^"]+">([^<]+)</a>', html)


@pytest.fixture
def history(sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas) -> None:
    """A P0 on api resolved, a P2 on web still open, a drill, spread over three days."""
    declare(sessions, clock.now(), "Database failover", "P0", services=["api"])
    with sessions() as db:
        incidents.change_status(db, SYSTEM, clock.now(), incidents.get(db, "INC-2026-11-23-001"), "resolved")
        db.commit()
    clock.advance(timedelta(days=1))
    declare(sessions, clock.now(), "Slow web pages", "P2", services=["web"])
    clock.advance(timedelta(days=1))
    declare(sessions, clock.now(), "Game day: database failover", "P1", services=["api", "web"], drill=True)


def test_the_list_shows_open_incidents_newest_first_by_default(
    client: TestClient, log_in: LogIn, history: None
) -> None:
    log_in(client, "charlie@example.com")
    html = client.get("/incidents").text
    assert _titles(html) == ["Game day: database failover", "Slow web pages"]
    assert "1 to 2 of 2, newest first" in text_of(html)
    assert "Declare an incident" not in html  # a viewer


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ({"status": "all"}, ["Game day: database failover", "Slow web pages", "Database failover"]),
        ({"status": "closed"}, ["Database failover"]),
        ({"status": "resolved"}, ["Database failover"]),
        ({"status": "triggered", "severity": "P2"}, ["Slow web pages"]),
        ({"status": "all", "service": "api"}, ["Game day: database failover", "Database failover"]),
        ({"status": "all", "q": "DATABASE"}, ["Game day: database failover", "Database failover"]),
        ({"status": "all", "q": "100%"}, []),
        ({"status": "all", "since": "2026-11-24"}, ["Game day: database failover", "Slow web pages"]),
    ],
)
def test_the_list_filters(
    client: TestClient, log_in: LogIn, history: None, query: dict[str, str], titles: list[str]
) -> None:
    log_in(client, "charlie@example.com")
    response = client.get("/incidents", params=query)
    assert response.status_code == 200
    assert _titles(response.text) == titles
    for value in query.values():
        assert f'value="{value}"' in response.text  # the form shows the filter in use


def test_declared_since_is_a_day_in_the_readers_time_zone(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas
) -> None:
    clock.advance(timedelta(hours=14))  # 23:00 UTC on the 23rd is the 24th in Tokyo
    declare(sessions, clock.now(), "Late night", "P3")
    with sessions() as db:
        db.execute(update(User).where(User.email == "charlie@example.com").values(time_zone="Asia/Tokyo"))
        db.commit()
    log_in(client, "charlie@example.com")
    assert _titles(client.get("/incidents", params={"since": "2026-11-24"}).text) == ["Late night"]
    assert _titles(client.get("/incidents", params={"since": "2026-11-25"}).text) == []


def test_a_bad_filter_is_named_and_the_rest_still_apply(client: TestClient, log_in: LogIn, history: None) -> None:
    log_in(client, "charlie@example.com")
    response = client.get("/incidents", params={"status": "sleeping", "since": "yesterday"})
    assert response.status_code == 200
    page = text_of(response.text)
    assert "unknown status 'sleeping'" in page
    assert "'yesterday' is not a date (YYYY-MM-DD)" in page
    assert _titles(response.text) == ["Game day: database failover", "Slow web pages"]


def test_the_list_pages_fifty_at_a_time_keeping_its_filters(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas
) -> None:
    for n in range(53):
        declare(sessions, clock.now(), f"Blip {n:02d}", "P3")
        clock.advance(timedelta(minutes=1))
    declare(sessions, clock.now(), "Other", "P2")
    log_in(client, "charlie@example.com")
    first = client.get("/incidents", params={"severity": "P3"}).text
    assert _titles(first) == [f"Blip {n:02d}" for n in range(52, 2, -1)]
    assert "1 to 50 of 53, newest first" in text_of(first)
    assert 'href="/incidents?status=open&amp;severity=P3&amp;page=2" rel="next"' in first
    assert 'rel="prev"' not in first
    second = client.get("/incidents", params={"severity": "P3", "page": "2"}).text
    assert _titles(second) == ["Blip 02", "Blip 01", "Blip 00"]
    assert "51 to 53 of 53" in text_of(second)
    assert 'href="/incidents?status=open&amp;severity=P3" rel="prev"' in second
    assert 'rel="next"' not in second


# ---- incidents over time --------------------------------------------------------------------


def _chart_label(html: str) -> str:
    found = re.search(r'<svg class="chart bar-chart" role="img" aria-label="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


@pytest.fixture
def over_weeks(sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas) -> None:
    """Declared at 09:00 on Monday 23 November (START) and before: the chart's week starts that day."""
    now = clock.now()
    declare(sessions, now - timedelta(weeks=13), "Too old for the chart", "P0")
    declare(sessions, now - timedelta(days=6), "Last week, on web", "P1", services=["web"])
    declare(sessions, now - timedelta(days=2), "Last week too", "P1")
    declare(sessions, now - timedelta(days=1), "A drill", "P0", drill=True)
    declare(sessions, now, "This week", "P0")


def test_the_list_charts_incidents_per_week_by_severity(client: TestClient, log_in: LogIn, over_weeks: None) -> None:
    log_in(client, "charlie@example.com")
    html = client.get("/incidents").text
    assert "<title>Incidents · Tocsin</title>" in html
    assert html.count('<svg class="chart bar-chart"') == 1
    assert html.index('id="list-heading"') < html.index('id="chart-heading"')  # on a phone, the list first
    assert _chart_label(html) == (
        "Incidents declared per week: 12 bars, Sep 7 to Nov 23, total 3 (P0 1, P1 2, P2 0, P3 0)"
    )
    assert "<title>Nov 16: P1 2</title>" in html
    assert "<title>Nov 23: P0 1</title>" in html


def test_the_chart_per_day_and_for_one_service(client: TestClient, log_in: LogIn, over_weeks: None) -> None:
    log_in(client, "charlie@example.com")
    html = client.get("/incidents", params={"per": "day"}).text
    assert _chart_label(html) == (
        "Incidents declared per day: 30 bars, Oct 25 to Nov 23, total 3 (P0 1, P1 2, P2 0, P3 0)"
    )
    assert '<a href="/incidents?status=open">Per week</a>' in html
    assert '<strong aria-current="true">Per day</strong>' in html
    on_web = client.get("/incidents", params={"service": "web", "status": "all"}).text
    assert "total 1 (P0 0, P1 1, P2 0, P3 0)" in _chart_label(on_web)
    assert '<a href="/incidents?status=all&amp;service=web&amp;per=day">Per day</a>' in on_web


def test_the_clocks_keep_counting_on_their_own_poll(
    client: TestClient, log_in: LogIn, incident: str, clock: FrozenClock
) -> None:
    log_in(client, "charlie@example.com")
    html = client.get(f"/incidents/{incident}").text
    assert f'hx-get="/incidents/{incident}/clocks" hx-trigger="every 15s"' in html
    clock.advance(timedelta(minutes=16))
    fragment = client.get(f"/incidents/{incident}/clocks", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert text_of(fragment.text) == (
        "Open for 16m Acknowledge: overdue by 1m (09:15) Resolve: due in 3h 44m (13:00) Next update: due in 14m (09:30)"
    )
