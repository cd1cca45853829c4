"""Services and severity schemes through the API: the emergency flags."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Personas


def test_a_service_is_created_and_edited_as_an_emergency(client: TestClient, personas: Personas) -> None:
    bob = personas.bob.headers
    made = client.post("/api/v1/services", json={"key": "payments", "emergency": True}, headers=bob)
    assert made.status_code == 201, made.text
    assert made.json()["emergency"] is True
    assert client.get("/api/v1/services/api", headers=bob).json()["emergency"] is False

    edited = client.patch("/api/v1/services/api", json={"emergency": True}, headers=bob)
    assert edited.status_code == 200, edited.text
    assert (edited.json()["emergency"], edited.json()["name"]) == (True, "Public API")  # the rest left as it was
    assert {s["key"]: s["emergency"] for s in client.get("/api/v1/services", headers=bob).json()} == {
        "api": True,
        "payments": True,
        "web": False,
    }
    off = client.patch("/api/v1/services/api", json={"emergency": False, "name": "API"}, headers=bob)
    assert (off.json()["emergency"], off.json()["name"]) == (False, "API")


def test_editing_a_service_needs_write_access_and_a_service_that_exists(client: TestClient, personas: Personas) -> None:
    assert (
        client.patch("/api/v1/services/api", json={"emergency": True}, headers=personas.charlie.headers).status_code
        == 403
    )
    missing = client.patch("/api/v1/services/nope", json={"emergency": True}, headers=personas.bob.headers)
    assert (missing.status_code, missing.json()["field"]) == (404, "service")
    wrong = client.patch("/api/v1/services/api", json={"emergency": "sometimes"}, headers=personas.bob.headers)
    assert wrong.status_code == 422


def test_the_severity_schemes_say_which_levels_are_emergencies(client: TestClient, personas: Personas) -> None:
    schemes = {s["name"]: s for s in client.get("/api/v1/severities", headers=personas.charlie.headers).json()}
    assert {lv["name"]: lv["emergency"] for lv in schemes["P"]["levels"]} == {
        "P0": True,
        "P1": False,
        "P2": False,
        "P3": False,
    }
    assert [lv["name"] for lv in schemes["SEV"]["levels"] if lv["emergency"]] == ["SEV1"]
