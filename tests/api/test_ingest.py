"""Ingestion end to end through the in-process app: native, PagerDuty Events v2, Alertmanager."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.protocols import captured_requests, raw
from tocsin.clock import FrozenClock
from tocsin.services import integrations
from tocsin.services.actor import Actor

PD_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # the key in the captured PagerDuty client requests

MakeIntegration = Callable[..., str]


@pytest.fixture
def make_integration(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> MakeIntegration:
    def make(kind: str = "native", service: str = "api", key: str | None = None, **settings: object) -> str:
        with sessions() as db:
            created = integrations.create(
                db, Actor.system("tests"), clock.now(), service_key=service, kind=kind, settings=settings, key=key
            )
            db.commit()
            return created.key

    return make


def incidents(client: TestClient, personas: Personas, status: str = "all") -> list[dict[str, object]]:
    page = client.get("/api/v1/incidents", params={"status": status}, headers=personas.charlie.headers).json()
    items: list[dict[str, object]] = page["items"]
    return items


def alerts(client: TestClient, personas: Personas) -> list[dict[str, object]]:
    items: list[dict[str, object]] = client.get("/api/v1/alerts", headers=personas.charlie.headers).json()["items"]
    return items


def test_a_native_trigger_opens_an_incident_and_a_repeat_only_counts(
    client: TestClient, personas: Personas, make_integration: MakeIntegration, clock: FrozenClock
) -> None:
    key = make_integration()
    event = {"action": "trigger", "dedup_key": "disk-full", "summary": "Disk full on db-1", "severity": "critical"}
    first = client.post("/api/v1/events", json=event, headers={"Authorization": f"Bearer {key}"})
    assert first.status_code == 202, first.text
    assert first.json()["result"] == "created"
    assert first.json()["incident"] == "INC-2026-11-23-001"
    clock.advance(timedelta(minutes=1))
    again = client.post(f"/api/v1/events/{key}", json=event)
    assert again.json()["result"] == "repeated"
    [alert] = alerts(client, personas)
    assert (alert["count"], alert["severity"], alert["incident"]) == (2, "P1", "INC-2026-11-23-001")
    assert alert["last_seen"] == "2026-11-23T09:01:00Z"
    [incident] = incidents(client, personas)
    assert (incident["severity"], incident["services"], incident["title"]) == ("P1", ["api"], "Disk full on db-1")

    resolved = client.post(f"/api/v1/events/{key}", json={"action": "resolve", "dedup_key": "disk-full"})
    assert resolved.json()["result"] == "resolved"
    [incident] = incidents(client, personas)
    assert incident["status"] == "monitoring"
    replay = client.post(f"/api/v1/events/{key}", json={"action": "resolve", "dedup_key": "disk-full"})
    assert replay.json()["result"] == "ignored"
    timeline = client.get("/api/v1/incidents/INC-2026-11-23-001/timeline", headers=personas.charlie.headers).json()
    assert [e["summary"] for e in timeline] == [
        "Declared P1: Disk full on db-1",
        "Alert attached: Disk full on db-1",
        "Alert resolved: Disk full on db-1",
        "Status triggered → monitoring: all alerts resolved",
    ]


def test_alerts_within_the_grouping_window_join_the_open_incident(
    client: TestClient, personas: Personas, make_integration: MakeIntegration, clock: FrozenClock
) -> None:
    key = make_integration(group_window_s=300)
    batch = [{"action": "trigger", "dedup_key": f"node-{n}", "summary": f"node {n} down"} for n in range(20)]
    answer = client.post(f"/api/v1/events/{key}", json=batch)
    assert answer.status_code == 202
    assert {r["incident"] for r in answer.json()["results"]} == {"INC-2026-11-23-001"}
    clock.advance(timedelta(minutes=10))
    later = client.post(f"/api/v1/events/{key}", json={"action": "trigger", "dedup_key": "x", "summary": "later"})
    assert later.json()["incident"] == "INC-2026-11-23-002"


def test_group_by_labels_split_and_join(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(group_by=["alertname"], group_window_s=0)

    def fire(dedup: str, name: str) -> str:
        body = {"action": "trigger", "dedup_key": dedup, "summary": name, "labels": {"alertname": name}}
        incident: str = client.post(f"/api/v1/events/{key}", json=body).json()["incident"]
        return incident

    assert fire("a", "HighLatency") == fire("b", "HighLatency")
    assert fire("c", "DiskFull") != fire("d", "HighLatency")


def test_routing_rules_set_severity_reroute_drop_and_record_low_urgency(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    bob = personas.bob.headers
    for rule in (
        {"matchers": ['env="staging"'], "drop": True},
        {"matchers": ['team="web"'], "route_to": "web"},
        {"matchers": ['severity=~"crit.*"'], "severity": "P0"},
        {"matchers": ['severity="info"'], "urgency": "low"},
    ):
        assert client.post("/api/v1/services/api/rules", json=rule, headers=bob).status_code == 201
    key = make_integration(group_window_s=0)

    def send(dedup: str, **labels: str) -> dict[str, object]:
        body = {"action": "trigger", "dedup_key": dedup, "summary": dedup, "labels": labels}
        if "severity" in labels:
            body["severity"] = labels["severity"]
        result: dict[str, object] = client.post(f"/api/v1/events/{key}", json=body).json()
        return result

    assert send("staging", env="staging")["result"] == "dropped"
    web = send("web", team="web")
    assert client.get(f"/api/v1/alerts/{web['alert_id']}", headers=bob).json()["service"] == "web"
    critical = send("crit", severity="critical")
    assert client.get(f"/api/v1/incidents/{critical['incident']}", headers=bob).json()["severity"] == "P0"
    info = send("info", severity="info")
    assert (info["incident"], info["held_by"]) == (None, "low urgency")
    assert len(alerts(client, personas)) == 3  # the dropped one was never stored


def test_a_maintenance_window_records_without_an_incident(
    client: TestClient, personas: Personas, make_integration: MakeIntegration, clock: FrozenClock
) -> None:
    window = {
        "name": "DB upgrade",
        "starts_at": (clock.now() - timedelta(minutes=5)).isoformat(),
        "ends_at": (clock.now() + timedelta(hours=1)).isoformat(),
        "service": "api",
        "matchers": ['component="db"'],
    }
    assert client.post("/api/v1/maintenance-windows", json=window, headers=personas.bob.headers).status_code == 201
    key = make_integration()
    held = client.post(
        f"/api/v1/events/{key}",
        json={"action": "trigger", "dedup_key": "db", "summary": "db down", "labels": {"component": "db"}},
    ).json()
    assert (held["incident"], held["held_by"]) == (None, "DB upgrade")
    other = client.post(
        f"/api/v1/events/{key}", json={"action": "trigger", "dedup_key": "web", "summary": "web down"}
    ).json()
    assert other["incident"] == "INC-2026-11-23-001"


def test_bad_native_events_name_the_field_and_store_nothing(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration()
    headers = {"Authorization": f"Bearer {key}"}
    cases = [
        ({"action": "explode", "summary": "x"}, "action"),
        ({"action": "trigger"}, ""),
        ({"action": "trigger", "summary": "x", "labels": {"a": 1}}, "labels.a"),
        ({"action": "trigger", "summary": "x", "sevrity": "P1"}, "sevrity"),
        ({"action": "resolve"}, ""),
    ]
    for body, field in cases:
        answer = client.post("/api/v1/events", json=body, headers=headers)
        assert answer.status_code == 422, body
        assert answer.headers["content-type"] == "application/problem+json"
        assert (answer.json().get("field") or "") == field, answer.json()
    malformed = client.post("/api/v1/events", content=b'{"action": "trig', headers=headers)
    assert malformed.status_code == 422
    assert "malformed JSON" in malformed.json()["detail"]
    assert client.post("/api/v1/events", json={"action": "trigger", "summary": "x"}).status_code == 401
    assert client.post("/api/v1/events/not-a-key", json={"action": "trigger", "summary": "x"}).status_code == 401
    assert alerts(client, personas) == []


def test_the_rate_limit_answers_429_with_retry_after(
    settings: object, client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration()
    client.app.state.rate_limiter._burst = 3  # type: ignore[attr-defined]
    client.app.state.rate_limiter._rate = 0.5  # type: ignore[attr-defined]
    codes = []
    for n in range(5):
        answer = client.post(f"/api/v1/events/{key}", json={"action": "trigger", "dedup_key": str(n), "summary": "s"})
        codes.append(answer.status_code)
    assert codes[:3] == [202, 202, 202]
    assert codes[3] == 429
    assert (
        client.post(f"/api/v1/events/{key}", json={"action": "trigger", "summary": "s"}).headers["retry-after"] == "2"
    )


def test_the_pagerduty_python_client_requests_replay_as_sent(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    make_integration(kind="pagerduty", key=PD_KEY)
    answers = []
    for request in captured_requests("pagerduty_events_v2_python_client_capture.json"):
        headers = {k: v for k, v in request["headers"] if k.lower() in ("content-type", "user-agent")}
        # The capture server put /pd429 and /pd400 in front to script its answers.
        path = request["path"][request["path"].index("/v2/") :]
        answer = client.post(path, content=request["body_raw"].encode(), headers=headers)
        answers.append((request["what"], answer.status_code, answer.json()))
    by_what = {what: (code, body) for what, code, body in answers}
    code, body = by_what["trigger with dedup_key, custom_details, links, images"]
    assert (code, body) == (202, {"status": "success", "message": "Event processed", "dedup_key": "srv01/checkout-5xx"})
    for what, code, body in answers:
        if code == 400:
            assert body["status"] == "invalid event", what
            assert body["errors"], what
        else:
            assert code == 202, (what, body)
    [incident] = incidents(client, personas)
    assert incident["services"] == ["api"]
    stored = alerts(client, personas)
    for alert in stored:
        shown = client.get(f"/api/v1/alerts/{alert['id']}", headers=personas.charlie.headers).json()
        assert PD_KEY not in shown["raw"]
        assert json.loads(shown["raw"])["event_action"] == "trigger"


def test_pagerduty_400_bodies_have_pagerduty_s_shape(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="pagerduty")
    missing = client.post("/v2/enqueue", json={"routing_key": key, "event_action": "trigger"})
    assert missing.status_code == 400
    assert missing.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["Value error, 'payload' is missing or blank"],
    }
    bad_key = client.post("/v2/enqueue", json={"routing_key": "x" * 32, "event_action": "trigger"})
    assert bad_key.json()["errors"] == ["Invalid routing key"]
    garbage = client.post("/v2/enqueue", content=b"{not json")
    assert garbage.status_code == 400
    assert garbage.json()["status"] == "invalid event"
    severity = client.post(
        "/v2/enqueue",
        json={
            "routing_key": key,
            "event_action": "trigger",
            "payload": {"summary": "s", "source": "h", "severity": "disaster"},
        },
    )
    assert severity.status_code == 400
    assert "payload.severity" in severity.json()["errors"][0]


def test_pagerduty_change_events_are_recorded(
    client: TestClient, personas: Personas, make_integration: MakeIntegration, engine: object
) -> None:
    key = make_integration(kind="pagerduty")
    answer = client.post(
        "/v2/change/enqueue",
        json={
            "routing_key": key,
            "payload": {"summary": "Deployed v1.4.2", "source": "ci", "timestamp": "2026-11-23T08:42:58.315+0000"},
            "links": [{"href": "https://ci.example.com/1", "text": "build"}],
        },
    )
    assert answer.status_code == 202
    assert answer.json() == {"status": "success", "message": "Change event processed"}


def test_an_alertmanager_group_opens_one_incident_and_its_resolution_resolves_it(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    firing, resolved = "alertmanager_webhook_firing.json", "alertmanager_webhook_resolved.json"
    key = make_integration(kind="alertmanager", auto_resolve="resolve")
    url = f"/api/v1/integrations/alertmanager/{key}"
    body = raw(firing)
    first = client.post(url, content=body, headers={"content-type": "application/json"})
    assert first.status_code == 202, first.text
    count = len(json.loads(body)["alerts"])
    for _ in range(2):  # Alertmanager re-sends every group_interval; an HA pair sends twice
        assert client.post(url, content=body, headers={"content-type": "application/json"}).status_code == 202
    [incident] = incidents(client, personas)
    stored = alerts(client, personas)
    assert len(stored) == count
    assert {a["count"] for a in stored} == {3}
    done = client.post(url, content=raw(resolved), headers={"content-type": "application/json"})
    assert done.status_code == 202
    [incident] = incidents(client, personas)
    assert incident["status"] == "resolved"


def test_the_prometheus_captures_replay_and_an_unknown_resolution_is_ignored(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="alertmanager")
    url = f"/api/v1/integrations/alertmanager/{key}"
    firing = client.post(url, content=raw("alertmanager_webhook_from_prometheus_firing.json"))
    assert [r["result"] for r in firing.json()["results"]] == ["created"]
    # The resolved capture is of another rule (FlappingProbe), which never fired here.
    resolved = client.post(url, content=raw("alertmanager_webhook_from_prometheus_resolved.json"))
    assert [r["result"] for r in resolved.json()["results"]] == ["ignored"]
    [incident] = incidents(client, personas)
    assert incident["status"] == "triggered"


def test_alertmanager_auth_by_bearer_or_basic_and_the_truncated_payload(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="alertmanager")
    body = raw("alertmanager_webhook_truncated_bearer.json")
    bearer = client.post("/api/v1/integrations/alertmanager", content=body, headers={"Authorization": f"Bearer {key}"})
    assert bearer.status_code == 202
    assert bearer.json()["truncated_alerts"] == 1
    basic = base64.b64encode(f"alertmanager:{key}".encode()).decode()
    assert (
        client.post(
            "/api/v1/integrations/alertmanager", content=body, headers={"Authorization": f"Basic {basic}"}
        ).status_code
        == 202
    )
    assert client.post("/api/v1/integrations/alertmanager", content=body).status_code == 401
    mixed = client.post(
        f"/api/v1/integrations/alertmanager/{key}", content=raw("alertmanager_webhook_mixed_firing_resolved.json")
    )
    assert mixed.status_code == 202
    wrong = client.post(
        f"/api/v1/integrations/alertmanager/{key}", json={"version": "3", "status": "firing", "alerts": []}
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "version"


def test_the_alertmanager_pagerduty_receiver_payloads_replay(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    make_integration(kind="pagerduty", key=json.loads(raw("alertmanager_pagerduty_v2_trigger.json"))["routing_key"])
    trigger = json.loads(raw("alertmanager_pagerduty_v2_trigger.json"))
    answer = client.post("/v2/enqueue", content=raw("alertmanager_pagerduty_v2_trigger.json"))
    assert answer.status_code == 202, answer.text
    assert answer.json()["dedup_key"] == trigger["dedup_key"]
    resolve = client.post("/v2/enqueue", content=raw("alertmanager_pagerduty_v2_resolve.json"))
    assert resolve.status_code == 202
    [incident] = incidents(client, personas)
    assert incident["status"] == "monitoring"


def test_ingest_urls_never_reach_the_logs(
    client: TestClient, personas: Personas, make_integration: MakeIntegration, capsys: pytest.CaptureFixture[str]
) -> None:
    key = make_integration()
    client.post(f"/api/v1/events/{key}", json={"action": "trigger", "summary": "s"})
    captured = capsys.readouterr()
    assert key not in captured.out + captured.err
    assert "/api/v1/events/{key}" in captured.out + captured.err


def test_nul_characters_and_bad_end_times_are_refused_not_stored(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="alertmanager")
    native = client.post(f"/api/v1/events/{key}", content=b'{"action":"trigger","summary":"a\\u0000b"}')
    assert native.status_code == 422
    assert "NUL" in native.json()["detail"]
    pd = client.post(
        "/v2/enqueue",
        content=(
            b'{"routing_key":"' + key.encode() + b'","event_action":"trigger",'
            b'"payload":{"summary":"a\\u0000","source":"h","severity":"error"}}'
        ),
    )
    assert pd.status_code == 400
    webhook = json.loads(raw("alertmanager_webhook_resolved.json"))
    webhook["alerts"][0]["endsAt"] = "yesterday"
    bad_end = client.post(f"/api/v1/integrations/alertmanager/{key}", json=webhook)
    assert bad_end.status_code == 422
    assert bad_end.json()["field"] == "alerts[0].endsAt"
    assert alerts(client, personas) == []


def test_a_generic_integration_with_a_broken_mapping_is_refused_when_created(
    client: TestClient, personas: Personas
) -> None:
    answer = client.post(
        "/api/v1/integrations",
        json={"service": "api", "kind": "generic", "settings": {"mapping": {"severity": "$.level"}}},
        headers=personas.bob.headers,
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "settings.mapping.summary"


def test_the_native_fast_path_keeps_the_documented_behaviour(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration()
    # Served without FastAPI's router, yet limited, logged and counted like every route.
    too_big = client.post(f"/api/v1/events/{key}", content=b"[" + b" " * (70 * 1024) + b"]")
    assert too_big.status_code == 413
    assert client.post(f"/api/v1/events/{key}/extra", json={}).status_code == 404
    assert client.get(f"/api/v1/events/{key}").status_code in (404, 405)
    assert client.post("/api/v1/events/", json={"action": "trigger", "summary": "x"}).status_code in (401, 404)
    created = client.post(f"/api/v1/events/{key}", json={"action": "trigger", "summary": "fast"})
    assert created.status_code == 202
    metrics = client.get("/metrics").text
    assert 'route="/api/v1/events/{key}",status="202"' in metrics
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/events/{key}" in spec["paths"]
