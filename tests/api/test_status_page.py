"""The status page's management API: the page, groups, components and their manual status,
scheduled maintenance; and what each persona may do."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Personas

API = "/api/v1/status-page"


def create(client: TestClient, personas: Personas, **fields: Any) -> dict[str, Any]:
    body = {"key": "api", "name": "API", "services": ["api"], **fields}
    answer = client.post(f"{API}/components", json=body, headers=personas.bob.headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def test_a_component_is_created_listed_changed_and_deleted(client: TestClient, personas: Personas) -> None:
    group = client.put(f"{API}/groups/platform", json={"name": "Platform"}, headers=personas.bob.headers)
    assert group.status_code == 200, group.text
    created = create(client, personas, group="platform", description="The public API")
    assert created["group"] == "platform"
    assert created["services"] == ["api"]
    assert created["status_override"] is None
    listed = client.get(f"{API}/components", headers=personas.charlie.headers).json()
    assert [c["key"] for c in listed] == ["api"]
    changed = client.patch(
        f"{API}/components/api", json={"name": "Public API", "group": "", "services": ["api", "web"]},
        headers=personas.bob.headers,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["group"], changed.json()["services"]) == (
        "Public API", None, ["api", "web"],
    )  # fmt: skip
    assert changed.json()["description"] == "The public API"
    assert client.delete(f"{API}/components/api", headers=personas.bob.headers).status_code == 204
    assert client.get(f"{API}/components/api", headers=personas.charlie.headers).status_code == 404


def test_a_manual_status_shows_on_the_public_page_and_clears(client: TestClient, personas: Personas) -> None:
    create(client, personas)
    answer = client.post(f"{API}/components/api/status", json={"status": "major_outage"}, headers=personas.bob.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status_override"] == "major_outage"
    summary = client.get("/api/v2/summary.json").json()
    assert summary["components"][0]["status"] == "major_outage"
    assert summary["status"]["indicator"] == "critical"
    cleared = client.post(f"{API}/components/api/status", json={"status": None}, headers=personas.bob.headers)
    assert cleared.json()["status_override"] is None
    assert client.get("/api/v2/summary.json").json()["status"]["indicator"] == "none"


def test_bad_input_is_a_problem_naming_the_field(client: TestClient, personas: Personas) -> None:
    create(client, personas)
    cases = [
        ("post", f"{API}/components", {"key": "x", "name": "X", "services": ["nope"]}, 422, "services"),
        ("post", f"{API}/components", {"key": "x", "name": "X", "group": "nope"}, 422, "group"),
        ("post", f"{API}/components", {"key": "x", "name": "X", "checks": ["nope"]}, 422, "checks"),
        ("post", f"{API}/components", {"key": "Not A Key!", "name": "X"}, 422, "key"),
        ("post", f"{API}/components", {"key": "api", "name": "Again"}, 409, "key"),
        ("post", f"{API}/components/api/status", {"status": "operational-ish"}, 422, "status"),
        ("post", f"{API}/components/nope/status", {"status": None}, 404, "component"),
        (
            "post", f"{API}/maintenances",
            {"title": "T", "starts_at": "2026-11-23T10:00:00Z", "ends_at": "2026-11-23T09:00:00Z"}, 422, "ends_at",
        ),
        (
            "post", f"{API}/maintenances",
            {"title": "T", "starts_at": "2026-11-23T10:00:00", "ends_at": "2026-11-23T11:00:00Z"}, 422, "starts_at",
        ),
        (
            "post", f"{API}/maintenances",
            {"title": "T", "starts_at": "2026-11-23T10:00:00Z", "ends_at": "2026-11-23T11:00:00Z",
             "components": ["nope"]}, 404, "component",
        ),
        ("patch", API, {"time_zone": "Mars/Olympus"}, 422, "time_zone"),
        ("patch", API, {"url": "ftp://status"}, 422, "url"),
    ]  # fmt: skip
    for method, url, body, status, field in cases:
        answer = client.request(method, url, json=body, headers=personas.alice.headers)
        assert answer.status_code == status, (url, body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert field in answer.text, (url, body, answer.text)


def test_the_page_is_configured_by_an_admin_only(client: TestClient, personas: Personas) -> None:
    body = {"name": "Acme status", "url": "https://status.acme.example", "time_zone": "Europe/Paris"}
    assert client.patch(API, json=body, headers=personas.bob.headers).status_code == 403
    answer = client.patch(API, json=body, headers=personas.alice.headers)
    assert answer.status_code == 200, answer.text
    assert client.get(API, headers=personas.charlie.headers).json()["name"] == "Acme status"
    page = client.get("/api/v2/status.json").json()["page"]
    assert page == {
        "id": page["id"], "name": "Acme status", "url": "https://status.acme.example",
        "time_zone": "Europe/Paris", "updated_at": page["updated_at"],
    }  # fmt: skip


def test_a_viewer_reads_but_changes_nothing(client: TestClient, personas: Personas) -> None:
    create(client, personas)
    headers = personas.charlie.headers
    assert client.post(f"{API}/components/api/status", json={"status": None}, headers=headers).status_code == 403
    assert client.post(f"{API}/components", json={"key": "x", "name": "X"}, headers=headers).status_code == 403
    assert client.delete(f"{API}/components/api", headers=headers).status_code == 403
    assert client.get(f"{API}/components", headers={}).status_code == 401


def test_maintenance_is_scheduled_listed_and_canceled(client: TestClient, personas: Personas) -> None:
    create(client, personas)
    body = {
        "title": "Database upgrade", "description": "Postgres 17", "starts_at": "2026-11-23T10:00:00Z",
        "ends_at": "2026-11-23T11:00:00Z", "components": ["api"],
    }  # fmt: skip
    answer = client.post(f"{API}/maintenances", json=body, headers=personas.bob.headers)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["components"] == ["api"]
    assert [m["title"] for m in client.get(f"{API}/maintenances", headers=personas.charlie.headers).json()] == [
        "Database upgrade"
    ]
    upcoming = client.get("/api/v2/scheduled-maintenances/upcoming.json").json()["scheduled_maintenances"]
    assert [m["name"] for m in upcoming] == ["Database upgrade"]
    assert client.delete(f"{API}/maintenances/{created['id']}", headers=personas.bob.headers).status_code == 204
    assert client.get("/api/v2/scheduled-maintenances.json").json()["scheduled_maintenances"] == []
    assert client.delete(f"{API}/maintenances/{created['id']}", headers=personas.bob.headers).status_code == 404
