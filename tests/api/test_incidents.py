from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.services.test_escalations import PUBLIC_URL, pages, seed
from tocsin.app import create_app
from tocsin.clock import Clock, FrozenClock
from tocsin.config import Settings
from tocsin.engine.escalations import Escalations
from tocsin.engine.runner import Runner

PROBLEM = "application/problem+json"


def declare(client: TestClient, personas: Personas, **body: object) -> dict[str, object]:
    payload = {"title": "Checkout 500s", "severity": "P1", "services": ["api"], **body}
    answer = client.post("/api/v1/incidents", json=payload, headers=personas.bob.headers)
    assert answer.status_code == 201, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_a_responder_runs_an_incident_from_declaration_to_resolution(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    bob = personas.bob.headers
    incident = declare(client, personas, impact="Payments fail")
    ref = incident["human_id"]
    assert ref == "INC-2026-11-23-001"
    assert incident["status"] == "triggered"
    assert incident["targets"] == [
        {"kind": "acknowledge", "due_at": "2026-11-23T09:15:00Z", "status": "pending"},
        {"kind": "resolve", "due_at": "2026-11-23T13:00:00Z", "status": "pending"},
    ]

    clock.advance(timedelta(minutes=4))
    acked = client.post(f"/api/v1/incidents/{ref}/acknowledge", headers=bob).json()
    assert acked["status"] == "acknowledged"
    assert acked["acknowledged_at"] == "2026-11-23T09:04:00Z"

    roles = client.post(
        f"/api/v1/incidents/{ref}/roles", json={"role": "commander", "user": personas.alice.email}, headers=bob
    ).json()["roles"]
    assert roles["commander"]["user"] == personas.alice.email

    assert client.post(f"/api/v1/incidents/{ref}/status", json={"status": "identified"}, headers=bob).status_code == 200
    note = client.post(f"/api/v1/incidents/{ref}/notes", json={"text": "Bad deploy 1432"}, headers=bob)
    assert note.status_code == 201
    assert note.json()["kind"] == "note"
    update = client.post(f"/api/v1/incidents/{ref}/updates", json={"text": "Rolling back", "public": True}, headers=bob)
    assert update.json()["data"] == {"public": True}
    clock.advance(timedelta(minutes=20))
    resolved = client.post(f"/api/v1/incidents/{ref}/resolve", json={"note": "rolled back"}, headers=bob).json()
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] == "2026-11-23T09:24:00Z"
    assert resolved["mitigated_at"] == "2026-11-23T09:24:00Z"

    timeline = client.get(f"/api/v1/incidents/{ref}/timeline", headers=personas.charlie.headers).json()
    assert [(e["kind"], e["actor"]) for e in timeline] == [
        ("declared", personas.bob.email),
        ("status", personas.bob.email),
        ("role", personas.bob.email),
        ("status", personas.bob.email),
        ("note", personas.bob.email),
        ("update", personas.bob.email),
        ("status", personas.bob.email),
    ]
    assert timeline[-1]["summary"] == "Status identified → resolved: rolled back"


def test_an_invalid_move_is_a_409_problem_with_the_reason(client: TestClient, personas: Personas) -> None:
    ref = declare(client, personas)["human_id"]
    client.post(f"/api/v1/incidents/{ref}/resolve", headers=personas.bob.headers)
    answer = client.post(f"/api/v1/incidents/{ref}/cancel", headers=personas.bob.headers)
    assert answer.status_code == 409
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json() == {
        "type": "about:blank",
        "title": "Invalid status change",
        "status": 409,
        "detail": f"{ref}: a resolved incident cannot be canceled",
        "field": "status",
        "errors": [{"field": "status", "message": f"{ref}: a resolved incident cannot be canceled"}],
    }


def test_a_bad_body_names_the_field(client: TestClient, personas: Personas) -> None:
    answer = client.post("/api/v1/incidents", json={"severity": "P1"}, headers=personas.bob.headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["field"] == "title"
    assert answer.json()["detail"] == "title: Field required"

    unknown = client.post(
        "/api/v1/incidents", json={"title": "x", "severity": "P1", "sevrity": "P0"}, headers=personas.bob.headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "sevrity"

    severity = client.post("/api/v1/incidents", json={"title": "x", "severity": "P9"}, headers=personas.bob.headers)
    assert severity.status_code == 422
    assert severity.json()["field"] == "severity"
    assert "P0, P1, P2, P3" in severity.json()["detail"]


def test_malformed_json_is_a_422_problem(client: TestClient, personas: Personas) -> None:
    answer = client.post(
        "/api/v1/incidents",
        content=b"{not json",
        headers={**personas.bob.headers, "content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM


def test_an_unknown_incident_is_a_404_problem(client: TestClient, personas: Personas) -> None:
    answer = client.get("/api/v1/incidents/INC-2026-11-23-042", headers=personas.charlie.headers)
    assert answer.status_code == 404
    assert answer.json()["detail"] == "no incident 'INC-2026-11-23-042'"


def test_listing_filters_and_paginates(client: TestClient, personas: Personas) -> None:
    for n in range(5):
        declare(client, personas, title=f"api {n}", severity="P2")
    web = declare(client, personas, title="web down", severity="P0", services=["web"])
    client.post(f"/api/v1/incidents/{web['human_id']}/resolve", headers=personas.bob.headers)
    headers = personas.charlie.headers

    open_page = client.get("/api/v1/incidents", params={"limit": 2}, headers=headers).json()
    assert open_page["total"] == 5
    assert [i["title"] for i in open_page["items"]] == ["api 4", "api 3"]
    # A listed incident reads the same as a shown one, targets included.
    shown = client.get(f"/api/v1/incidents/{open_page['items'][0]['human_id']}", headers=headers).json()
    assert open_page["items"][0] == shown
    second = client.get("/api/v1/incidents", params={"limit": 2, "offset": 4}, headers=headers).json()
    assert [i["title"] for i in second["items"]] == ["api 0"]

    closed = client.get("/api/v1/incidents", params={"status": "closed"}, headers=headers).json()
    assert [i["title"] for i in closed["items"]] == ["web down"]
    by_service = client.get("/api/v1/incidents", params={"status": "all", "service": "web"}, headers=headers).json()
    assert by_service["total"] == 1
    by_severity = client.get("/api/v1/incidents", params={"severity": "P2"}, headers=headers).json()
    assert by_severity["total"] == 5
    bad = client.get("/api/v1/incidents", params={"status": "fixed"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["field"] == "status"
    too_many = client.get("/api/v1/incidents", params={"limit": 501}, headers=headers)
    assert too_many.status_code == 422
    assert too_many.json()["field"] == "limit"


def test_severity_change_and_edit(client: TestClient, personas: Personas) -> None:
    ref = declare(client, personas)["human_id"]
    bob = personas.bob.headers
    raised = client.post(f"/api/v1/incidents/{ref}/severity", json={"severity": "P0", "reason": "worse"}, headers=bob)
    assert raised.json()["severity"] == "P0"
    assert raised.json()["targets"][0]["due_at"] == "2026-11-23T09:05:00Z"
    edited = client.patch(f"/api/v1/incidents/{ref}", json={"services": ["api", "web"], "title": "Pay"}, headers=bob)
    assert edited.json()["services"] == ["api", "web"]
    assert edited.json()["title"] == "Pay"


class FirstCycle:
    """Runs last in the engine's cycle: once it has run, the cycle at start-up is over."""

    name = "first-cycle"

    def __init__(self) -> None:
        self.done = threading.Event()

    def run(self, session: Session, clock: Clock) -> int:
        self.done.set()
        return 0


def test_an_incident_declared_through_the_api_is_paged_at_once_not_at_the_engines_next_interval(
    settings: Settings, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    first = FirstCycle()
    runner = Runner(sessions, clock, [Escalations(PUBLIC_URL), first], holder="test")
    # An interval longer than the test: after the cycle at start-up, only a wake runs another.
    app = create_app(replace(settings, engine_interval_s=3600.0), clock, sessions, runner)
    with TestClient(app) as client:
        assert first.done.wait(10), "the engine's first cycle ran at start-up"
        incident = declare(client, personas)
        deadline = time.monotonic() + 10
        while not (paged := pages(sessions, int(str(incident["id"])))) and time.monotonic() < deadline:
            time.sleep(0.02)
    assert paged == [("bob", "discord", 0, "pending"), ("bob", "email", 2, "pending")]
