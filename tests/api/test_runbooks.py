from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.conftest import Personas
from tocsin.clock import FrozenClock

PROBLEM = "application/problem+json"

API_RUNBOOK = {
    "key": "api-p1",
    "name": "API P1",
    "services": ["api"],
    "severities": ["P1"],
    "links": [{"title": "API runbook", "url": "https://wiki.example.com/api"}],
    "phases": [
        {
            "name": "Triage",
            "time_frame": "first 5 minutes",
            "items": [{"text": "Check the API dashboard", "role": "scribe"}, {"text": "Tell support", "role": None}],
        },
        {"name": "After", "time_frame": "after", "items": [{"text": "Postmortem", "role": "commander"}]},
    ],
}


def declare(client: TestClient, personas: Personas, **body: object) -> str:
    payload = {"title": "Checkout 500s", "severity": "P1", "services": ["api"], **body}
    answer = client.post("/api/v1/incidents", json=payload, headers=personas.bob.headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["human_id"])


def test_an_admin_manages_runbooks_and_a_viewer_reads_them(client: TestClient, personas: Personas) -> None:
    alice, charlie = personas.alice.headers, personas.charlie.headers
    made = client.post("/api/v1/runbooks", json=API_RUNBOOK, headers=alice)
    assert made.status_code == 201, made.text
    assert made.json() == {**API_RUNBOOK, "shipped": False, "managed": False}

    listed = client.get("/api/v1/runbooks", headers=charlie).json()
    assert [(r["key"], r["shipped"]) for r in listed] == [("api-p1", False), ("default", True)]
    assert client.get("/api/v1/runbooks/default", headers=charlie).json()["phases"][0]["time_frame"] == (
        "first 5 minutes"
    )

    changed = {**API_RUNBOOK, "name": "API outage", "severities": "all"}
    del changed["key"]
    updated = client.put("/api/v1/runbooks/api-p1", json=changed, headers=alice)
    assert updated.status_code == 200, updated.text
    assert (updated.json()["name"], updated.json()["severities"]) == ("API outage", "all")

    assert client.delete("/api/v1/runbooks/api-p1", headers=alice).status_code == 204
    assert client.get("/api/v1/runbooks/api-p1", headers=charlie).status_code == 404


def test_writes_need_an_admin(client: TestClient, personas: Personas) -> None:
    for headers in (personas.bob.headers, personas.charlie.headers):
        assert client.post("/api/v1/runbooks", json=API_RUNBOOK, headers=headers).status_code == 403
    assert client.get("/api/v1/runbooks").status_code == 401


def test_bad_input_names_the_field(client: TestClient, personas: Personas) -> None:
    alice = personas.alice.headers
    cases = [
        ({**API_RUNBOOK, "services": ["nope"]}, "services", "unknown service 'nope'"),
        ({**API_RUNBOOK, "links": [{"title": "x", "url": "javascript:alert(1)"}]}, "links.0.url", "web address"),
        (
            {**API_RUNBOOK, "phases": [{"name": "a", "items": [{"text": "do", "role": "wizard"}]}]},
            "phases.0.items.0.role",
            "unknown role",
        ),
        ({**API_RUNBOOK, "phases": []}, "phases", ""),
        ({**API_RUNBOOK, "key": "default"}, "key", "shipped default"),
    ]
    for body, field, words in cases:
        answer = client.post("/api/v1/runbooks", json=body, headers=alice)
        assert answer.status_code in (409, 422), answer.text
        assert answer.headers["content-type"] == PROBLEM
        problem = answer.json()
        named = problem.get("field") or problem["errors"][0]["field"]
        assert named == field, problem
        assert words in str(problem)
    assert client.post("/api/v1/runbooks", json=API_RUNBOOK, headers=alice).status_code == 201
    assert client.post("/api/v1/runbooks", json=API_RUNBOOK, headers=alice).status_code == 409


def test_a_declared_incident_gets_its_checklist_and_ticks_go_to_the_timeline(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    alice, bob, charlie = personas.alice.headers, personas.bob.headers, personas.charlie.headers
    client.post("/api/v1/runbooks", json=API_RUNBOOK, headers=alice)
    ref = declare(client, personas, commander=personas.alice.email)
    checklist = client.get(f"/api/v1/incidents/{ref}/checklist", headers=charlie).json()
    assert (checklist["runbook"], checklist["done"], checklist["total"]) == ("api-p1", 0, 3)
    assert checklist["links"] == API_RUNBOOK["links"]
    assert [[i["id"] for i in p["items"]] for p in checklist["phases"]] == [[1, 2], [3]]

    refused = client.post(f"/api/v1/incidents/{ref}/checklist/1/tick", headers=bob)
    assert refused.status_code == 403
    assert "Technical lead / scribe (nobody holds it yet)" in refused.json()["detail"]
    client.post(f"/api/v1/incidents/{ref}/roles", json={"role": "scribe", "user": personas.bob.email}, headers=bob)

    clock.advance(timedelta(minutes=3))
    ticked = client.post(f"/api/v1/incidents/{ref}/checklist/1/tick", headers=bob)
    assert ticked.status_code == 200, ticked.text
    assert ticked.json() | {"ticked_at": None} == {
        "id": 1,
        "phase": "Triage",
        "time_frame": "first 5 minutes",
        "text": "Check the API dashboard",
        "role": "scribe",
        "ticked": True,
        "ticked_at": None,
        "ticked_by": personas.bob.email,
    }
    assert ticked.json()["ticked_at"] == "2026-11-23T09:03:00Z"
    timeline = client.get(f"/api/v1/incidents/{ref}/timeline", headers=charlie).json()
    assert timeline[-1]["kind"] == "checklist"
    assert client.post(f"/api/v1/incidents/{ref}/checklist/1/tick", headers=bob).status_code == 409
    assert client.post(f"/api/v1/incidents/{ref}/checklist/1/untick", headers=alice).json()["ticked"] is False
    assert client.post(f"/api/v1/incidents/{ref}/checklist/1/tick", headers=charlie).status_code == 403
    assert client.post(f"/api/v1/incidents/{ref}/checklist/99/tick", headers=alice).status_code == 404
    bad = client.post(f"/api/v1/incidents/{ref}/checklist/one/tick", headers=alice)
    assert bad.status_code == 422
    assert bad.json()["field"] == "item_id"


def test_a_role_handoff_carries_a_briefing(client: TestClient, personas: Personas) -> None:
    bob = personas.bob.headers
    ref = declare(client, personas, commander=personas.bob.email)
    briefing = {"status": "Checkout down", "actions_taken": "Rolled back", "hypothesis": "DB pool"}
    answer = client.post(
        f"/api/v1/incidents/{ref}/roles",
        json={"role": "commander", "user": personas.alice.email, "briefing": briefing},
        headers=bob,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["roles"]["commander"]["user"] == personas.alice.email
    entry = client.get(f"/api/v1/incidents/{ref}/timeline", headers=bob).json()[-1]
    assert entry["kind"] == "role"
    assert entry["data"]["briefing"] == briefing

    nobody = client.post(
        f"/api/v1/incidents/{ref}/roles",
        json={"role": "scribe", "user": personas.alice.email, "briefing": briefing},
        headers=bob,
    )
    assert nobody.status_code == 422
    assert nobody.json()["field"] == "briefing"
    unknown = client.post(
        f"/api/v1/incidents/{ref}/roles",
        json={"role": "commander", "user": personas.bob.email, "briefing": {"mood": "tired"}},
        headers=bob,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "briefing.mood"
