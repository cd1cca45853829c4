"""Schemathesis against our own OpenAPI document: generated requests never get a 5xx,
and every error is problem+json."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Err

from tests.conftest import Personas


def test_generated_requests_never_break_the_server(client: TestClient, personas: Personas) -> None:
    api = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    tried: list[str] = []
    for result in api.get_all_operations():
        assert not isinstance(result, Err), result
        operation = result.ok()
        tried.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=personas.alice.headers)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            # PagerDuty's endpoints answer in PagerDuty's shape, on purpose (see test_ingest).
            if response.status_code >= 400 and not case.path.startswith("/v2/"):
                assert response.headers["content-type"] == ["application/problem+json"], response.text
                assert response.json()["status"] == response.status_code

        check()
    assert "POST /api/v1/incidents" in tried
    assert len(tried) >= 20
