"""`GET /api/v1/reports`, `/api/v1/reports.csv` and `/api/v1/audit` through the app, as Charlie (a viewer)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.conftest import Personas
from tocsin.clock import FrozenClock


def declare_and_acknowledge(client: TestClient, personas: Personas, clock: FrozenClock, minutes: int) -> None:
    answer = client.post(
        "/api/v1/incidents",
        json={"title": "Checkout 500s", "severity": "P2", "services": ["api"]},
        headers=personas.bob.headers,
    )
    assert answer.status_code == 201, answer.text
    clock.advance(timedelta(minutes=minutes))
    moved = client.post(
        f"/api/v1/incidents/{answer.json()['human_id']}/acknowledge", json={}, headers=personas.bob.headers
    )
    assert moved.status_code == 200, moved.text


def test_a_viewer_reads_the_report_and_its_csv(client: TestClient, personas: Personas, clock: FrozenClock) -> None:
    declare_and_acknowledge(client, personas, clock, 6)
    declare_and_acknowledge(client, personas, clock, 2)

    answer = client.get("/api/v1/reports", params={"since": "7d"}, headers=personas.charlie.headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["incidents"] == 2
    assert report["overall"]["acknowledge"] == {"count": 2, "median_s": 240.0, "mean_s": 240.0}
    assert [group["key"] for group in report["by_team"]] == ["platform"]
    assert report["action_items"] == {
        "total": 0, "done": 0, "open": 0, "overdue": 0, "wont_do": 0, "percent_done": None
    }  # fmt: skip

    exported = client.get("/api/v1/reports.csv", params={"since": "7d"}, headers=personas.charlie.headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="tocsin-report-2026-11-16-to-2026-11-23.csv"' in exported.headers["content-disposition"]
    assert "severity,P2,acknowledge_median_s,240\n" in exported.text


def test_a_bad_window_is_a_422_naming_since(client: TestClient, personas: Personas) -> None:
    for since in ("soon", "0d", "400d"):
        answer = client.get("/api/v1/reports", params={"since": since}, headers=personas.charlie.headers)
        assert answer.status_code == 422, since
        assert answer.json()["field"] == "since"
    assert client.get("/api/v1/reports").status_code == 401
    assert client.get("/api/v1/reports.csv").status_code == 401


def test_a_viewer_reads_the_audit_of_everything_or_of_one_team(client: TestClient, personas: Personas) -> None:
    answer = client.get("/api/v1/audit", headers=personas.charlie.headers)
    assert answer.status_code == 200, answer.text
    audit = answer.json()
    assert 0 <= audit["total"] < 100
    escalation = next(c for c in audit["components"] if c["key"] == "escalation_policies")
    assert escalation["score"] == 0
    assert escalation["evidence"][0] == "0 of 2 services have an escalation policy"
    assert audit["next_steps"][0]["gain"] >= audit["next_steps"][-1]["gain"]

    assert (
        client.get("/api/v1/audit", params={"team": "platform"}, headers=personas.charlie.headers).json()["team"]
        == "platform"
    )
    missing = client.get("/api/v1/audit", params={"team": "nope"}, headers=personas.charlie.headers)
    assert (missing.status_code, missing.json()["field"]) == (404, "team")
    assert client.get("/api/v1/audit").status_code == 401
