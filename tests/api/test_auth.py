from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Personas


def test_no_token_is_401_with_a_hint(client: TestClient, personas: Personas) -> None:
    answer = client.get("/api/v1/incidents")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="tocsin"'
    assert answer.json()["detail"] == "send an API token as 'Authorization: Bearer <token>'"


def test_an_unknown_token_is_401(client: TestClient, personas: Personas) -> None:
    answer = client.get("/api/v1/incidents", headers={"Authorization": "Bearer tcn_nope"})
    assert answer.status_code == 401
    assert answer.json()["detail"] == "unknown or revoked token"


def test_a_read_token_cannot_write(client: TestClient, personas: Personas) -> None:
    answer = client.post("/api/v1/incidents", json={"title": "x", "severity": "P1"}, headers=personas.charlie.headers)
    assert answer.status_code == 403
    assert answer.json()["detail"] == "this needs a token with the write scope; yours has read"
    assert client.get("/api/v1/incidents", headers=personas.charlie.headers).status_code == 200


def test_only_admins_manage_tokens_and_users(client: TestClient, personas: Personas) -> None:
    assert client.get("/api/v1/tokens", headers=personas.bob.headers).status_code == 403
    assert (
        client.post("/api/v1/users", json={"email": "dave@example.com"}, headers=personas.bob.headers).status_code
        == 403
    )
    created = client.post(
        "/api/v1/users", json={"email": "dave@example.com", "name": "Dave"}, headers=personas.alice.headers
    )
    assert created.status_code == 201


def test_a_token_is_shown_once_stored_hashed_and_revocable(client: TestClient, personas: Personas) -> None:
    alice = personas.alice.headers
    issued = client.post(
        "/api/v1/tokens", json={"user": personas.bob.email, "name": "ci", "scope": "write"}, headers=alice
    ).json()
    secret = issued["token"]
    assert secret.startswith("tcn_")
    listed = client.get("/api/v1/tokens", headers=alice).json()
    assert all("token" not in t for t in listed)
    assert secret not in client.get("/api/v1/tokens", headers=alice).text
    assert issued["prefix"] == secret[:10]

    mine = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json()
    assert mine["actor"] == personas.bob.email
    assert mine["scope"] == "write"
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=alice).status_code == 204
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_token_scope_must_be_known(client: TestClient, personas: Personas) -> None:
    answer = client.post(
        "/api/v1/tokens",
        json={"user": personas.bob.email, "name": "x", "scope": "root"},
        headers=personas.alice.headers,
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "scope"
