"""The postmortem, template and action item endpoints: who may do what, and what bad input gets."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.conftest import Personas
from tocsin.clock import FrozenClock

PROBLEM = "application/problem+json"


def resolved_incident(client: TestClient, personas: Personas, clock: FrozenClock, **body: object) -> str:
    bob = personas.bob.headers
    payload = {"title": "Checkout 500s", "severity": "P1", "services": ["api"], **body}
    ref = str(client.post("/api/v1/incidents", json=payload, headers=bob).json()["human_id"])
    clock.advance(timedelta(minutes=40))
    assert client.post(f"/api/v1/incidents/{ref}/resolve", json={"note": "Rolled back"}, headers=bob).is_success
    return ref


def test_resolving_drafts_a_postmortem_that_responders_review_and_publish(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    ref = resolved_incident(client, personas, clock)
    charlie, bob, alice = personas.charlie.headers, personas.bob.headers, personas.alice.headers
    shown = client.get(f"/api/v1/postmortems/{ref}", headers=charlie).json()
    assert shown["status"] == "draft"
    assert shown["due_at"] == "2026-11-25T09:40:00Z"
    assert shown["export_name"] == "2026-11-23-checkout-500s.md"
    assert "| 2026-11-23 09:40:00 | bob@example.com | Status triggered → resolved: Rolled back |" in shown["body"]
    listed = client.get("/api/v1/postmortems", params={"status": "draft"}, headers=charlie).json()
    assert [p["incident"] for p in listed["items"]] == [ref]

    denied = client.put(f"/api/v1/postmortems/{ref}/body", json={"body": "x"}, headers=charlie)
    assert denied.status_code == 403
    edited = client.put(f"/api/v1/postmortems/{ref}/body", json={"body": shown["body"] + "\nMore.\n"}, headers=bob)
    assert edited.json()["body"].endswith("More.\n")

    unknown = client.post(f"/api/v1/postmortems/{ref}/review", json={"reviewers": ["zed@x.org"]}, headers=bob)
    assert (unknown.status_code, unknown.json()["field"]) == (422, "reviewers")
    review = client.post(f"/api/v1/postmortems/{ref}/review", json={"reviewers": [personas.alice.email]}, headers=bob)
    assert review.json()["status"] == "in_review"
    assert client.post(f"/api/v1/postmortems/{ref}/approve", headers=alice).json()["reviewers"][0]["approved_at"]
    clock.advance(timedelta(hours=2))
    published = client.post(
        f"/api/v1/postmortems/{ref}/publish", json={"status_page": True, "summary": "We rolled back."}, headers=alice
    ).json()
    assert (published["status"], published["published_by"], published["published_at"]) == (
        "published",
        personas.alice.email,
        "2026-11-23T11:40:00Z",
    )
    timeline = client.get(f"/api/v1/incidents/{ref}/timeline", headers=charlie).json()
    assert [(e["summary"], e["data"]) for e in timeline[-2:]] == [
        ("Postmortem published", {"event": "published"}),
        ("Postmortem summary: We rolled back.", {"public": True}),
    ]
    again = client.post(f"/api/v1/postmortems/{ref}/draft", headers=bob)
    assert (again.status_code, again.headers["content-type"]) == (409, PROBLEM)


def test_the_markdown_export(client: TestClient, personas: Personas, clock: FrozenClock) -> None:
    ref = resolved_incident(client, personas, clock)
    answer = client.get(f"/api/v1/postmortems/{ref}.md", headers=personas.charlie.headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="2026-11-23-checkout-500s.md"'
    assert answer.text.startswith("# Postmortem: Checkout 500s")
    assert answer.text.rstrip().endswith("_None._")
    assert client.get("/api/v1/postmortems/INC-2026-11-23-009.md", headers=personas.charlie.headers).status_code == 404


def test_admins_edit_the_template_and_a_broken_one_is_refused_naming_the_line(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    url = "/api/v1/postmortem-template"
    shown = client.get(url, headers=personas.charlie.headers).json()
    assert (shown["key"], shown["edited"]) == ("postmortem", False)
    assert client.put(url, json={"body": "# {{ title }}\n"}, headers=personas.bob.headers).status_code == 403
    broken = client.put(url, json={"body": "# {{ title }}\n\n{% if drill %}\n"}, headers=personas.alice.headers)
    assert broken.status_code == 422
    assert broken.json()["field"] == "body"
    assert "line" in broken.json()["detail"]
    saved = client.put(url, json={"body": "# {{ title }} ({{ severity }})\n"}, headers=personas.alice.headers).json()
    assert saved["edited"] is True
    ref = resolved_incident(client, personas, clock)
    assert (
        client.get(f"/api/v1/postmortems/{ref}", headers=personas.bob.headers).json()["body"]
        == "# Checkout 500s (P1)\n"
    )
    assert client.delete(url, headers=personas.alice.headers).json()["edited"] is False


def test_a_postmortem_by_hand_for_a_p3(client: TestClient, personas: Personas, clock: FrozenClock) -> None:
    ref = resolved_incident(client, personas, clock, severity="P3")
    assert client.get(f"/api/v1/postmortems/{ref}", headers=personas.bob.headers).status_code == 404
    made = client.post("/api/v1/postmortems", json={"incident": ref}, headers=personas.bob.headers)
    assert made.status_code == 201
    assert made.json()["due_at"] is None
    twice = client.post("/api/v1/postmortems", json={"incident": ref}, headers=personas.bob.headers)
    assert twice.status_code == 409


def test_action_items_through_the_api(client: TestClient, personas: Personas, clock: FrozenClock) -> None:
    ref = resolved_incident(client, personas, clock)
    bob = personas.bob.headers
    body = {"incident": ref, "title": "Alert on 5xx", "priority": "P0", "owner": personas.bob.email}
    assert client.post("/api/v1/action-items", json=body, headers=personas.charlie.headers).status_code == 403
    bad = client.post("/api/v1/action-items", json={**body, "priority": "P7"}, headers=bob)
    assert (bad.status_code, bad.json()["field"]) == (422, "priority")
    item = client.post("/api/v1/action-items", json=body, headers=bob).json()
    assert (item["due_at"], item["status"], item["owner"]) == ("2026-11-25T09:40:00Z", "open", personas.bob.email)
    custom = client.post(
        "/api/v1/action-items", json={**body, "priority": "P3", "due_at": "2026-12-01T00:00:00Z"}, headers=bob
    ).json()
    assert custom["due_at"] == "2026-12-01T00:00:00Z"

    clock.advance(timedelta(days=3))
    overdue = client.get("/api/v1/action-items", params={"overdue": "true"}, headers=personas.charlie.headers).json()
    assert [(i["id"], i["overdue"]) for i in overdue["items"]] == [(item["id"], True)]
    started = client.patch(f"/api/v1/action-items/{item['id']}", json={"status": "in_progress"}, headers=bob).json()
    assert started["status"] == "in_progress"
    done = client.patch(f"/api/v1/action-items/{item['id']}", json={"status": "done"}, headers=bob).json()
    assert (done["status"], done["completed_at"]) == ("done", "2026-11-26T09:40:00Z")
    bad_status = client.patch(f"/api/v1/action-items/{item['id']}", json={"status": "closed"}, headers=bob)
    assert (bad_status.status_code, bad_status.json()["field"]) == (422, "status")
    listed = client.get("/api/v1/action-items", params={"incident": ref, "status": "all"}, headers=bob).json()
    assert listed["total"] == 2
    assert client.get("/api/v1/action-items/999", headers=bob).status_code == 404
