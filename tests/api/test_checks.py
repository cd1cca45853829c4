"""The health-check management API: create, list, show, edit, pause, resume, delete, run-now."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tests.support.probe_servers import HttpTarget, http_target
from tocsin.storage.models import Alert, Check, CheckResult


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with http_target() as server:
        yield server


def body(**fields: Any) -> dict[str, Any]:
    return {"service": "api", "name": "api-health", "kind": "http", "spec": {"url": "http://127.0.0.1:9/"}, **fields}


def create(client: TestClient, personas: Personas, **fields: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/checks", json=body(**fields), headers=personas.bob.headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def test_a_new_check_has_gatus_defaults_and_a_slot_within_its_interval(client: TestClient, personas: Personas) -> None:
    created = create(client, personas)
    assert created["status"] == "new"
    assert (created["failures_before_down"], created["successes_before_up"]) == (3, 2)
    assert created["target"] == "GET http://127.0.0.1:9/"
    assert created["next_run_at"] > "2026-11-23T09:00:00"
    assert created["next_run_at"] <= "2026-11-23T09:01:00Z"
    listed = client.get("/api/v1/checks", headers=personas.charlie.headers).json()
    assert [c["name"] for c in listed] == ["api-health"]


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"kind": "icmp"}, 422, "kind"),
        ({"spec": {"url": "localhost"}}, 422, "spec.url"),
        ({"spec": {"url": "http://x", "conditions": ["status is ok"]}}, 422, "spec.conditions"),
        ({"spec": {"url": "http://x", "color": "red"}}, 422, "spec.color"),
        ({"kind": "tcp", "spec": {"host": "db"}}, 422, "spec.port"),
        ({"interval_s": 5}, 422, "interval_s"),
        ({"interval_s": 30, "timeout_s": 45}, 422, "timeout_s"),
        ({"name": "API Health"}, 422, "name"),
        ({"service": "nope"}, 404, "service"),
        ({"surprise": True}, 422, "surprise"),
    ],
)
def test_a_check_that_cannot_work_is_refused_naming_the_field_and_nothing_is_written(
    client: TestClient, personas: Personas, session: Session, fields: dict[str, Any], status: int, field: str
) -> None:
    answer = client.post("/api/v1/checks", json=body(**fields), headers=personas.bob.headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == field
    assert session.scalar(select(func.count()).select_from(Check)) == 0


def test_names_are_unique(client: TestClient, personas: Personas) -> None:
    create(client, personas)
    answer = client.post("/api/v1/checks", json=body(service="web"), headers=personas.bob.headers)
    assert (answer.status_code, answer.json()["field"]) == (409, "name")


def test_only_writers_change_checks_and_only_authenticated_users_read_them(
    client: TestClient, personas: Personas
) -> None:
    create(client, personas)
    viewer = personas.charlie.headers
    assert client.post("/api/v1/checks", json=body(name="other"), headers=viewer).status_code == 403
    assert client.post("/api/v1/checks/api-health/run-now", headers=viewer).status_code == 403
    assert client.patch("/api/v1/checks/api-health", json={"interval_s": 120}, headers=viewer).status_code == 403
    assert client.delete("/api/v1/checks/api-health", headers=viewer).status_code == 403
    assert client.get("/api/v1/checks").status_code == 401
    assert client.get("/api/v1/checks/api-health").status_code == 401


def test_an_edit_changes_only_what_it_names(client: TestClient, personas: Personas) -> None:
    create(client, personas, spec={"url": "http://127.0.0.1:9/", "keyword": "ok"})
    answer = client.patch(
        "/api/v1/checks/api-health", json={"interval_s": 300, "service": "web"}, headers=personas.bob.headers
    )
    assert answer.status_code == 200, answer.text
    edited = answer.json()
    assert (edited["interval_s"], edited["service"], edited["spec"]["keyword"]) == (300, "web", "ok")
    bad = client.patch("/api/v1/checks/api-health", json={"spec": {"url": "nope"}}, headers=personas.bob.headers)
    assert (bad.status_code, bad.json()["field"]) == (422, "spec.url")
    shown = client.get("/api/v1/checks/api-health", headers=personas.charlie.headers).json()
    assert shown["spec"]["url"] == "http://127.0.0.1:9/"


def test_run_now_runs_the_probe_records_it_and_three_failures_open_the_alert(
    client: TestClient, personas: Personas, session: Session, target: HttpTarget
) -> None:
    create(client, personas, spec={"url": f"{target.url}/healthz", "keyword": "ok"})
    answer = client.post("/api/v1/checks/api-health/run-now", headers=personas.bob.headers)
    assert answer.status_code == 200, answer.text
    ran = answer.json()
    assert ran["result"]["up"] is True
    assert ran["check"]["status"] == "up"
    assert target.behaviour.requests[0][1] == "/healthz"

    target.stop()
    for _ in range(3):
        ran = client.post("/api/v1/checks/api-health/run-now", headers=personas.bob.headers).json()
    assert ran["result"]["up"] is False
    assert ran["result"]["reason"].startswith("connection refused or unreachable")
    assert ran["check"]["status"] == "down"
    [alert] = session.scalars(select(Alert).where(Alert.dedup_key == "check:api-health")).all()
    assert alert.status == "firing"
    session.commit()

    shown = client.get("/api/v1/checks/api-health", params={"results": 2}, headers=personas.charlie.headers).json()
    assert [r["up"] for r in shown["recent_results"]] == [False, False]
    assert shown["uptime"][0]["uptime_percent"] == 25.0


def test_pausing_resolves_the_alert_resuming_starts_afresh_and_deleting_removes_the_results(
    client: TestClient, personas: Personas, session: Session
) -> None:
    create(client, personas, failures_before_down=1)
    client.post("/api/v1/checks/api-health/run-now", headers=personas.bob.headers)
    paused = client.post("/api/v1/checks/api-health/pause", headers=personas.bob.headers).json()
    assert (paused["status"], paused["next_run_at"], paused["alerting"]) == ("paused", None, False)
    assert session.scalars(select(Alert.status)).all() == ["resolved"]
    session.commit()
    assert client.post("/api/v1/checks/api-health/pause", headers=personas.bob.headers).status_code == 200
    resumed = client.post("/api/v1/checks/api-health/resume", headers=personas.bob.headers).json()
    assert (resumed["status"], resumed["failures"]) == ("new", 0)
    assert resumed["next_run_at"] is not None
    assert client.post("/api/v1/checks/api-health/resume", headers=personas.bob.headers).status_code == 409

    assert client.delete("/api/v1/checks/api-health", headers=personas.bob.headers).status_code == 204
    assert client.get("/api/v1/checks/api-health", headers=personas.charlie.headers).status_code == 404
    assert session.scalar(select(func.count()).select_from(CheckResult)) == 0
