from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Personas


def test_liveness_and_readiness_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json() == {"status": "ready"}


def test_metrics_count_requests(client: TestClient, personas: Personas) -> None:
    client.get("/api/v1/incidents", headers=personas.charlie.headers)
    body = client.get("/metrics").text
    assert 'tocsin_http_requests_total{method="GET",route="/api/v1/incidents",status="200"}' in body


def test_the_openapi_document_describes_the_incident_api(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "Tocsin"
    assert "/api/v1/incidents/{ref}/acknowledge" in spec["paths"]
    assert "DeclareIncident" in spec["components"]["schemas"]


def test_the_docs_page_loads_nothing_from_the_internet(client: TestClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text
    assert "/api/v1/docs/static/swagger-ui-bundle.js" in page.text
    assert client.get("/api/v1/docs/static/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_over_the_limit_are_refused_with_413(client: TestClient, personas: Personas, chunked: bool) -> None:
    big = b'{"title": "' + b"x" * (65 * 1024) + b'", "severity": "P1"}'
    headers = {**personas.bob.headers, "content-type": "application/json"}
    if chunked:
        answer = client.post("/api/v1/incidents", content=iter([big[:1000], big[1000:]]), headers=headers)
    else:
        answer = client.post("/api/v1/incidents", content=big, headers=headers)
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert "65536 bytes" in answer.json()["detail"]
    listed = client.get("/api/v1/incidents", headers=personas.bob.headers).json()
    assert listed["total"] == 0


def test_unknown_paths_are_404_problems(client: TestClient) -> None:
    answer = client.get("/api/v1/nothing-here")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_directory_listings(client: TestClient, personas: Personas) -> None:
    headers = personas.charlie.headers
    assert [s["key"] for s in client.get("/api/v1/services", headers=headers).json()] == ["api", "web"]
    assert client.get("/api/v1/services/api", headers=headers).json()["team"] == "platform"
    team = client.get("/api/v1/teams/platform", headers=headers).json()
    assert team["members"] == [personas.alice.email, personas.bob.email]
    schemes = {s["name"]: s for s in client.get("/api/v1/severities", headers=headers).json()}
    assert schemes["P"]["active"] is True
    assert [lv["name"] for lv in schemes["SEV"]["levels"]] == ["SEV1", "SEV2", "SEV3"]
    roles = [r["key"] for r in client.get("/api/v1/roles", headers=headers).json()]
    assert roles == ["commander", "communications", "scribe", "ops", "dev"]
    dup = client.post("/api/v1/services", json={"key": "api"}, headers=personas.bob.headers)
    assert dup.status_code == 409
    bad = client.post("/api/v1/services", json={"key": "Bad Key"}, headers=personas.bob.headers)
    assert bad.status_code == 422
    assert bad.json()["field"] == "key"


def test_a_chunked_body_under_the_limit_reaches_the_handler(client: TestClient, personas: Personas) -> None:
    body = b'{"title": "Chunked", "severity": "P2"}'
    headers = {**personas.bob.headers, "content-type": "application/json"}
    answer = client.post("/api/v1/incidents", content=iter([body[:10], body[10:]]), headers=headers)
    assert answer.status_code == 201
    assert answer.json()["title"] == "Chunked"


def test_nul_characters_are_refused_before_they_reach_the_database(client: TestClient, personas: Personas) -> None:
    body = client.post("/api/v1/incidents", json={"title": "a\x00b", "severity": "P1"}, headers=personas.bob.headers)
    assert body.status_code == 422
    assert body.json()["field"] == "title"
    assert body.json()["detail"] == "title: Value error, must not contain NUL characters"
    listed = client.post(
        "/api/v1/incidents", json={"title": "ok", "severity": "P1", "services": ["a\x00"]}, headers=personas.bob.headers
    )
    assert listed.status_code == 422
    assert listed.json()["field"] == "services"
    path = client.get("/api/v1/incidents/INC%00", headers=personas.bob.headers)
    assert path.status_code == 400
    query = client.get("/api/v1/incidents?severity=P%001", headers=personas.bob.headers)
    assert query.status_code == 400
    assert query.headers["content-type"] == "application/problem+json"
