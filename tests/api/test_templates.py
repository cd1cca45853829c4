"""/api/v1/templates: the shipped message templates, a team's edits, reset and preview; and updates
written from a template through /api/v1/incidents/{ref}/updates."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.services import channel_posts, channels, status_page
from tocsin.services.actor import Actor
from tocsin.services.channels import RouteSpec
from tocsin.services.status_page import ComponentSpec
from tocsin.storage import models

SYSTEM = Actor.system("tests")


def declare(client: TestClient, personas: Personas, **body: object) -> str:
    answer = client.post(
        "/api/v1/incidents",
        headers=personas.bob.headers,
        json={
            "title": "Checkout returns 500s",
            "severity": "P1",
            "services": ["api"],
            "impact": "A third of checkouts fail.",
            "commander": "alice@example.com",
            **body,
        },
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["human_id"])


def test_it_lists_the_six_shipped_templates_and_the_names_they_may_use(client: TestClient, personas: Personas) -> None:
    answer = client.get("/api/v1/templates", headers=personas.charlie.headers)
    assert answer.status_code == 200
    body = answer.json()
    assert [t["key"] for t in body["items"]] == [
        "internal_declaration",
        "internal_update",
        "internal_resolution",
        "customer_notice",
        "customer_resolution",
        "support_briefing",
    ]
    assert not any(t["edited"] for t in body["items"])
    assert "next_update" in body["names"]


def test_an_admin_edits_a_template_and_resets_it_to_the_default(client: TestClient, personas: Personas) -> None:
    edit = {"body": "{{ human_id }} is {{ status }}; next update {{ next_update or 'soon' }}.\n"}
    answer = client.put("/api/v1/templates/internal_update", headers=personas.alice.headers, json=edit)
    assert answer.status_code == 200, answer.text
    assert answer.json()["edited"] is True
    assert answer.json()["updated_by"] == "alice@example.com"
    shown = client.get("/api/v1/templates/internal_update", headers=personas.bob.headers).json()
    assert shown["body"] == edit["body"]

    reset = client.delete("/api/v1/templates/internal_update", headers=personas.alice.headers)
    assert reset.status_code == 200
    assert reset.json()["edited"] is False
    assert reset.json()["body"] == reset.json()["default"]


def test_only_an_admin_edits(client: TestClient, personas: Personas) -> None:
    answer = client.put("/api/v1/templates/customer_notice", headers=personas.bob.headers, json={"body": "Hi"})
    assert answer.status_code == 403


def test_an_unknown_key_is_refused(client: TestClient, personas: Personas) -> None:
    answer = client.put("/api/v1/templates/tweet", headers=personas.alice.headers, json={"body": "Hi"})
    assert answer.status_code == 404
    assert "templates are internal_declaration" in answer.json()["detail"]


def test_a_template_naming_an_unknown_name_is_refused_naming_the_line(client: TestClient, personas: Personas) -> None:
    body = {"body": "{{ human_id }}\n{% if resolved %}{{ comander }}{% endif %}\n"}
    answer = client.put("/api/v1/templates/internal_update", headers=personas.alice.headers, json=body)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["detail"].startswith("line 2: unknown name 'comander'")
    assert problem["field"] == "body"


def test_a_template_that_does_not_parse_is_refused_naming_the_line(client: TestClient, personas: Personas) -> None:
    answer = client.put(
        "/api/v1/templates/internal_update", headers=personas.alice.headers, json={"body": "ok\n{% if status %}\n"}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("line 2:")


def test_a_preview_without_an_incident_uses_a_sample_one(client: TestClient, personas: Personas) -> None:
    answer = client.post("/api/v1/templates/customer_notice/preview", headers=personas.charlie.headers)
    assert answer.status_code == 200
    assert answer.json()["incident"] is None
    assert answer.json()["text"].startswith("We are investigating an issue affecting Checkout, Public API.")


def test_a_preview_fills_the_template_from_an_incident(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    ref = declare(client, personas)
    clock.advance(timedelta(minutes=10))
    answer = client.post(
        "/api/v1/templates/internal_update/preview", headers=personas.bob.headers, json={"incident": ref}
    )
    assert answer.status_code == 200, answer.text
    text = answer.json()["text"]
    assert text.startswith(f"[P1] {ref} update: Checkout returns 500s\n")
    assert "Status: triggered (10 min since 2026-11-23 09:00 UTC)." in text
    assert "Commander: Alice Admin" in text
    assert "Next update by 09:30 UTC." in text
    assert f"/incidents/{ref}" in text


def test_an_unsaved_edit_is_previewed(client: TestClient, personas: Personas) -> None:
    answer = client.post(
        "/api/v1/templates/support_briefing/preview",
        headers=personas.bob.headers,
        json={"body": "{{ title }} ({{ severity }})"},
    )
    assert answer.json()["text"] == "Checkout returns 500s (P1)"


def test_an_update_is_written_from_a_template(client: TestClient, personas: Personas) -> None:
    ref = declare(client, personas)
    answer = client.post(
        f"/api/v1/incidents/{ref}/updates",
        headers=personas.bob.headers,
        json={"template": "customer_notice", "public": True},
    )
    assert answer.status_code == 201, answer.text
    entry = answer.json()
    assert entry["summary"].startswith("We are investigating an issue affecting Public API.")
    assert entry["data"] == {"public": True, "template": "customer_notice"}
    incident = client.get(f"/api/v1/incidents/{ref}", headers=personas.bob.headers).json()
    assert incident["communication"]["customer_notice_due_at"] is None
    assert incident["communication"]["next_update_due_at"] == "2026-11-23T09:30:00Z"


def test_an_update_names_a_known_template(client: TestClient, personas: Personas) -> None:
    ref = declare(client, personas)
    answer = client.post(f"/api/v1/incidents/{ref}/updates", headers=personas.bob.headers, json={"template": "x"})
    assert answer.status_code == 422
    assert answer.json()["field"] == "template"
    answer = client.post(f"/api/v1/incidents/{ref}/updates", headers=personas.bob.headers, json={})
    assert answer.status_code == 422
    assert answer.json()["field"] == "text"


def test_a_drill_refuses_a_public_update(client: TestClient, personas: Personas) -> None:
    ref = declare(client, personas, drill=True)
    answer = client.post(
        f"/api/v1/incidents/{ref}/updates", headers=personas.bob.headers, json={"text": "Hello", "public": True}
    )
    assert answer.status_code == 409
    assert answer.json()["detail"].endswith("is a drill: its updates never reach the status page or customers")
    internal = client.post(f"/api/v1/incidents/{ref}/updates", headers=personas.bob.headers, json={"text": "Hello"})
    assert internal.status_code == 201


def test_the_incident_says_what_it_owes_and_when_it_becomes_resolvable(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    ref = declare(client, personas)
    incident = client.get(f"/api/v1/incidents/{ref}", headers=personas.bob.headers).json()
    assert incident["communication"] == {
        "next_update_due_at": "2026-11-23T09:30:00Z",
        "customer_notice_due_at": "2026-11-23T10:00:00Z",
        "resolvable_at": None,
    }
    clock.advance(timedelta(minutes=12))
    moved = client.post(f"/api/v1/incidents/{ref}/status", headers=personas.bob.headers, json={"status": "monitoring"})
    assert moved.json()["communication"]["resolvable_at"] == "2026-11-23T10:12:00Z"
    listed = client.get("/api/v1/incidents", headers=personas.bob.headers).json()["items"]
    assert listed[0]["communication"]["resolvable_at"] == "2026-11-23T10:12:00Z"


def test_a_public_update_from_a_template_reaches_the_channels_and_the_status_page(
    client: TestClient, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        channels.create_channel(
            db, SYSTEM, clock.now(), name="alerts", kind="discord", address="https://discord.com/api/webhooks/1/a",
            routes=[RouteSpec(["incident.*"])],
        )  # fmt: skip
        status_page.create_component(db, SYSTEM, clock.now(), "api", ComponentSpec(name="API", services=["api"]))
        db.commit()
    real = declare(client, personas)
    drill = declare(client, personas, drill=True, title="Game day")
    for ref in (real, drill):
        client.post(
            f"/api/v1/incidents/{ref}/updates", headers=personas.bob.headers, json={"template": "internal_update"}
        )
    client.post(
        f"/api/v1/incidents/{real}/updates",
        headers=personas.bob.headers,
        json={"template": "customer_notice", "public": True},
    )
    with sessions() as db:
        channel_posts.post_due(db, clock.now(), public_url="https://tocsin.example")
        db.commit()
        posted = [str(n.payload.get("text", "")) for n in db.scalars(select(models.Notification)) if n.channel_id]
    assert any(text.startswith("We are investigating an issue affecting Public API.") for text in posted), posted
    assert any(f"[P1] {drill} update: Game day" in text for text in posted)  # drills still reach the team

    published = client.get("/api/v2/incidents.json").json()["incidents"]
    assert [i["name"] for i in published] == ["Checkout returns 500s"]
    [update] = published[0]["incident_updates"]
    assert update["body"].startswith("We are investigating an issue affecting Public API.")
