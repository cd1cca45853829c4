"""Opsgenie's Alert API, Grafana alerting and generic JSON webhooks, end to end through the app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.protocols import captured_requests, load, raw
from tocsin.clock import FrozenClock
from tocsin.services import integrations
from tocsin.services.actor import Actor

MakeIntegration = Callable[..., str]
GRAFANA = "grafana_webhook_docs_example.json"
OPSGENIE_SDK = "opsgenie_alert_api_sdk_capture.json"
AM_CHAT = "alertmanager_slack_discord_opsgenie_capture.json"
TOO_BIG = b'{"message": "' + b"x" * (64 * 1024) + b'"}'  # over the test settings' 64 KiB


@pytest.fixture
def make_integration(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> MakeIntegration:
    def make(
        kind: str = "native", service: str = "api", key: str | None = None, signing_secret: str | None = None,
        **settings: object,
    ) -> str:  # fmt: skip
        with sessions() as db:
            created = integrations.create(
                db, Actor.system("tests"), clock.now(), service_key=service, kind=kind, settings=settings, key=key,
                signing_secret=signing_secret,
            )  # fmt: skip
            db.commit()
            return created.key

    return make


def incidents(client: TestClient, personas: Personas) -> list[dict[str, Any]]:
    page = client.get("/api/v1/incidents", params={"status": "all"}, headers=personas.charlie.headers).json()
    items: list[dict[str, Any]] = page["items"]
    return items


def alerts(client: TestClient, personas: Personas) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/alerts", headers=personas.charlie.headers).json()["items"]
    return sorted(items, key=lambda alert: int(alert["id"]))


def alert(client: TestClient, personas: Personas, alert_id: int) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/api/v1/alerts/{alert_id}", headers=personas.charlie.headers).json()
    return found


# ---- Opsgenie Alert API ------------------------------------------------------------


def genie(key: str) -> dict[str, str]:
    return {"Authorization": f"GenieKey {key}", "Content-Type": "application/json"}


def replay(client: TestClient, request: dict[str, Any], key: str) -> Any:
    """A captured request as it was sent, with our key for the one in the capture
    (`eb243592-faa2-4ba2-a551q-…` is no valid key: it has dashes)."""
    headers = {k: v for k, v in request["headers"] if k.lower() in ("content-type", "user-agent", "accept")}
    return client.post(request["path"], content=request["body_raw"].encode(), headers={**headers, **genie(key)})


def assert_accepted(answer: Any) -> str:
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert list(body) == ["result", "took", "requestId"]
    assert body["result"] == "Request will be processed"
    assert isinstance(body["took"], float)
    assert answer.headers["x-request-id"] == body["requestId"]
    request_id: str = body["requestId"]
    uuid.UUID(request_id)
    return request_id


def assert_opsgenie_error(answer: Any, status: int, message: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, Any] = answer.json()
    assert body["message"].startswith(message), body
    assert set(body) <= {"message", "errors", "took", "requestId"}
    uuid.UUID(body["requestId"])
    return body


def test_the_opsgenie_sdk_requests_replay_as_sent_open_then_close_an_incident(
    client: TestClient, personas: Personas, make_integration: MakeIntegration, clock: FrozenClock
) -> None:
    key = make_integration(kind="opsgenie")
    create, close = captured_requests(OPSGENIE_SDK)
    first = assert_accepted(replay(client, create, key))
    clock.advance(timedelta(minutes=1))
    assert assert_accepted(replay(client, create, key)) != first  # a request id per request
    [stored] = alerts(client, personas)
    assert (stored["dedup_key"], stored["summary"], stored["count"]) == (
        "checkout-5xx",
        "checkout 5xx rate above 10%",
        2,
    )
    assert (stored["severity"], stored["sender_severity"], stored["source"]) == ("P2", "high", "checkout-1")
    assert stored["labels"]["priority"] == "P2"
    [incident] = incidents(client, personas)
    assert (incident["title"], incident["severity"], incident["status"]) == (
        "checkout 5xx rate above 10%",
        "P2",
        "triggered",
    )

    assert_accepted(replay(client, close, key))
    assert_accepted(replay(client, close, key))  # a replayed close changes nothing
    [stored] = alerts(client, personas)
    assert stored["status"] == "resolved"
    [incident] = incidents(client, personas)
    assert incident["status"] == "monitoring"


def test_alertmanager_s_opsgenie_receiver_fires_and_closes_end_to_end(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="opsgenie", auto_resolve="resolve")
    fire, close = [r for r in captured_requests(AM_CHAT) if r["path"].startswith("/v2/alerts")]
    assert close["path"].endswith("/close?identifierType=alias")
    for _ in range(2):  # Alertmanager re-sends a firing group every repeat_interval
        assert_accepted(replay(client, fire, key))
    [stored] = alerts(client, personas)
    assert stored["dedup_key"] == "53bf3a567fb14da9ebd29ef21e6e9cfa8792878f152a58fe4da7ef2ea10e1ec8"
    assert (stored["count"], stored["labels"]["alertname"]) == (2, "HighErrorRate")
    assert stored["links"] == [{"href": "http://127.0.0.1:19093/#/alerts?receiver=chat", "text": "Source"}]
    assert alert(client, personas, stored["id"])["raw"] == fire["body_raw"]
    assert_accepted(replay(client, close, key))
    [stored] = alerts(client, personas)
    assert stored["status"] == "resolved"
    [incident] = incidents(client, personas)
    assert incident["status"] == "resolved"


def test_an_opsgenie_acknowledge_by_alias_acknowledges_the_incident(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="opsgenie")
    assert_accepted(
        client.post("/v2/alerts", json={"message": "Queue backlog", "alias": "q/backlog"}, headers=genie(key))
    )
    acked = client.post("/v2/alerts/q/backlog/acknowledge?identifierType=alias", headers=genie(key))
    assert_accepted(acked)
    [stored] = alerts(client, personas)
    assert (stored["status"], stored["acknowledged_at"]) == ("firing", "2026-11-23T09:00:00Z")
    [incident] = incidents(client, personas)
    assert incident["status"] == "acknowledged"


def test_an_opsgenie_close_of_an_unknown_alias_is_accepted_and_changes_nothing(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="opsgenie")
    assert_accepted(client.post("/v2/alerts", json={"message": "m", "alias": "kept"}, headers=genie(key)))
    assert_accepted(client.post("/v2/alerts/never-sent/close?identifierType=alias", json={}, headers=genie(key)))
    assert [a["status"] for a in alerts(client, personas)] == ["firing"]


def test_an_opsgenie_alert_closes_by_the_request_id_it_was_created_with_or_by_its_number(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="opsgenie")
    request_id = assert_accepted(client.post("/v2/alerts", json={"message": "a", "alias": "a"}, headers=genie(key)))
    assert_accepted(client.post("/v2/alerts", json={"message": "b", "alias": "b"}, headers=genie(key)))
    first, second = alerts(client, personas)
    assert_accepted(client.post(f"/v2/alerts/{request_id}/close?identifierType=id", headers=genie(key)))
    assert_accepted(client.post(f"/v2/alerts/{second['id']}/acknowledge?identifierType=tiny", headers=genie(key)))
    first, second = alerts(client, personas)
    assert (first["status"], second["status"], second["acknowledged_at"]) == (
        "resolved",
        "firing",
        "2026-11-23T09:00:00Z",
    )

    # The same alias fires again: closing the old alert by its id must not close the new one.
    assert_accepted(client.post("/v2/alerts", json={"message": "a again", "alias": "a"}, headers=genie(key)))
    assert_accepted(client.post(f"/v2/alerts/{request_id}/close?identifierType=id", headers=genie(key)))
    assert [a["status"] for a in alerts(client, personas)] == ["resolved", "firing", "firing"]


def test_an_opsgenie_id_that_names_no_alert_of_the_integration_is_404_and_the_default_type_is_id(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key, other = make_integration(kind="opsgenie"), make_integration(kind="opsgenie")
    assert_accepted(client.post("/v2/alerts", json={"message": "m", "alias": "mine"}, headers=genie(key)))
    [mine] = alerts(client, personas)
    for path in (
        f"/v2/alerts/{mine['id']}/close?identifierType=tiny",  # another integration's alert
        "/v2/alerts/999999/close?identifierType=id",
        f"/v2/alerts/{uuid.uuid4()}/close?identifierType=id",
        "/v2/alerts/mine/close",  # Opsgenie's default identifierType is id, not alias
    ):
        assert_opsgenie_error(client.post(path, headers=genie(other)), 404, "Alert does not exist")
    assert_opsgenie_error(client.post("/v2/alerts/mine/close", headers=genie(key)), 404, "Alert does not exist")
    assert [a["status"] for a in alerts(client, personas)] == ["firing"]


def test_opsgenie_errors_have_opsgenie_s_shape_and_store_nothing(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="opsgenie")
    good = {"message": "m", "alias": "a"}
    for headers in ({}, {"Authorization": f"Bearer {key}"}, {"Authorization": "GenieKey "}, genie("x" * 32)):
        assert_opsgenie_error(client.post("/v2/alerts", json=good, headers=headers), 401, "Could not authenticate")
    assert_opsgenie_error(
        client.post("/v2/alerts/a/close?identifierType=alias", headers={}), 401, "Could not authenticate"
    )
    malformed = assert_opsgenie_error(
        client.post("/v2/alerts", content=b'{"message": "m', headers=genie(key)), 400, "Invalid JSON body"
    )
    assert malformed["message"] == "Invalid JSON body: EOF while parsing a string at line 1 column 14"
    assert_opsgenie_error(client.post("/v2/alerts", content=b"", headers=genie(key)), 400, "Invalid JSON body")
    unprocessable = "Request body is not processable. Please check the errors."
    for body, errors in (
        ({"alias": "a"}, {"message": "Field required"}),
        ({"message": " "}, {"message": "Value error, Message can not be empty."}),
        ({"message": "m", "priority": "P9"}, {"priority": "Input should be 'P1', 'P2', 'P3', 'P4' or 'P5'"}),
        ({"message": "m", "details": {"n": 1}}, {"details.n": "Input should be a valid string"}),
        ({"message": "m", "responders": [{"type": "team"}]},
         {"responders[0]": "Value error, a responder needs an id, a name or a username"}),
        (["m"], {"body": "Input should be an object"}),
    ):  # fmt: skip
        answer = assert_opsgenie_error(client.post("/v2/alerts", json=body, headers=genie(key)), 422, unprocessable)
        assert answer["errors"] == errors
    bad_type = client.post("/v2/alerts/a/close?identifierType=name", headers=genie(key))
    assert assert_opsgenie_error(bad_type, 422, unprocessable)["errors"] == {
        "identifierType": "must be one of id, alias, tiny; got 'name'"
    }
    bad_close = client.post("/v2/alerts/a/close?identifierType=alias", json={"note": 5}, headers=genie(key))
    assert assert_opsgenie_error(bad_close, 422, unprocessable)["errors"] == {"note": "Input should be a valid string"}
    assert client.post("/v2/alerts", content=TOO_BIG, headers=genie(key)).status_code == 413
    assert alerts(client, personas) == []


def test_opsgenie_s_rate_limit_answers_429_in_its_shape_with_retry_after(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="opsgenie")
    client.app.state.rate_limiter._burst = 2  # type: ignore[attr-defined]
    client.app.state.rate_limiter._rate = 0.5  # type: ignore[attr-defined]
    answers = [client.post("/v2/alerts", json={"message": "m", "alias": str(n)}, headers=genie(key)) for n in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert_opsgenie_error(answers[2], 429, "You are making too many requests!")
    assert answers[2].headers["retry-after"] == "2"
    assert len(alerts(client, personas)) == 2


# ---- Grafana alerting ----------------------------------------------------------------


def grafana_resolved() -> bytes:
    webhook = load(GRAFANA)
    webhook["status"], webhook["state"] = "resolved", "ok"
    for item in webhook["alerts"]:
        item["status"], item["endsAt"] = "resolved", "2021-10-12T10:01:03+02:00"
    return json.dumps(webhook).encode()


def test_a_grafana_notification_opens_one_incident_and_its_resolution_resolves_it(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="grafana", auto_resolve="resolve")
    url = f"/api/v1/integrations/grafana/{key}"
    for _ in range(2):  # Grafana re-sends the group every group interval
        answer = client.post(url, content=raw(GRAFANA), headers={"content-type": "application/json"})
        assert answer.status_code == 202, answer.text
    assert answer.json()["alerts"] == 2
    assert answer.json()["truncated_alerts"] == 0
    assert [r["result"] for r in answer.json()["results"]] == ["repeated", "repeated"]
    stored = alerts(client, personas)
    assert [(a["dedup_key"], a["count"]) for a in stored] == [("c6eadffa33fcdf37", 2), ("bc97ff14869b13e3", 2)]
    assert stored[0]["summary"] == "This alert was triggered for zone us-1"
    assert [link["text"] for link in stored[0]["links"]] == ["Alert rule", "Runbook", "Silence"]
    assert stored[0]["details"]["values"] == {"B": 44.23943737541908, "C": 1}
    [incident] = incidents(client, personas)
    done = client.post(url, content=grafana_resolved())
    assert [r["result"] for r in done.json()["results"]] == ["resolved", "resolved"]
    [incident] = incidents(client, personas)
    assert incident["status"] == "resolved"
    replayed = client.post(url, content=grafana_resolved())
    assert [r["result"] for r in replayed.json()["results"]] == ["ignored", "ignored"]


def test_grafana_authenticates_by_url_bearer_or_basic_and_may_put(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="grafana")
    basic = base64.b64encode(f"grafana:{key}".encode()).decode()
    answers = [
        client.post("/api/v1/integrations/grafana", content=raw(GRAFANA), headers={"Authorization": f"Bearer {key}"}),
        client.post("/api/v1/integrations/grafana", content=raw(GRAFANA), headers={"Authorization": f"Basic {basic}"}),
        client.put("/api/v1/integrations/grafana", content=raw(GRAFANA), headers={"Authorization": f"Bearer {key}"}),
        client.put(f"/api/v1/integrations/grafana/{key}", content=raw(GRAFANA)),
    ]
    assert [a.status_code for a in answers] == [202, 202, 202, 202]
    assert {a["count"] for a in alerts(client, personas)} == {4}


def grafana_signature(secret: str, body: bytes, timestamp: str | None = None) -> str:
    message = f"{timestamp}:".encode() + body if timestamp else body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_a_signed_grafana_integration_takes_either_header_name_with_or_without_a_timestamp(
    client: TestClient, personas: Personas, make_integration: MakeIntegration, clock: FrozenClock
) -> None:
    key = make_integration(kind="grafana", signing_secret="grafana-hmac-secret")
    url, body = f"/api/v1/integrations/grafana/{key}", raw(GRAFANA)
    now = str(int(clock.now().timestamp()))
    for headers in (
        {"X-Grafana-Alert-Signature": grafana_signature("grafana-hmac-secret", body)},
        {"X-Grafana-Alerting-Signature": grafana_signature("grafana-hmac-secret", body)},
        {
            "X-Grafana-Alerting-Signature": grafana_signature("grafana-hmac-secret", body, now),
            "X-Grafana-Alerting-Timestamp": now,
        },
    ):
        assert client.post(url, content=body, headers=headers).status_code == 202, headers
    assert {a["count"] for a in alerts(client, personas)} == {3}


def test_a_wrong_missing_or_stale_grafana_signature_is_401_and_stores_nothing(
    client: TestClient, personas: Personas, make_integration: MakeIntegration, clock: FrozenClock
) -> None:
    key = make_integration(kind="grafana", signing_secret="grafana-hmac-secret")
    url, body = f"/api/v1/integrations/grafana/{key}", raw(GRAFANA)
    stale = str(int((clock.now() - timedelta(minutes=10)).timestamp()))
    for headers, reason in (
        ({}, "not signed"),
        ({"X-Grafana-Alert-Signature": grafana_signature("another-secret", body)}, "does not match"),
        ({"X-Grafana-Alert-Signature": grafana_signature("grafana-hmac-secret", body + b" ")}, "does not match"),
        (
            {
                "X-Grafana-Alerting-Signature": grafana_signature("grafana-hmac-secret", body, stale),
                "X-Grafana-Alerting-Timestamp": stale,
            },
            "more than 5 minutes",
        ),
    ):
        answer = client.post(url, content=body, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["content-type"] == "application/problem+json"
        assert reason in answer.json()["detail"]
        assert answer.json()["field"] == "X-Grafana-Alert-Signature"
    assert alerts(client, personas) == []


def test_bad_grafana_webhooks_name_the_field_and_store_nothing(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="grafana")
    url = f"/api/v1/integrations/grafana/{key}"
    webhook = load(GRAFANA)
    webhook["alerts"][1]["labels"]["zone"] = 1
    for body, status, field in (
        (b'{"receiver": "x", ', 422, None),
        (b"", 400, None),
        (raw("alertmanager_webhook_firing.json"), 422, "version"),
        (json.dumps(webhook).encode(), 422, "alerts[1].labels.zone"),
        (json.dumps({**load(GRAFANA), "status": "pending"}).encode(), 422, "status"),
    ):
        answer = client.post(url, content=body)
        assert answer.status_code == status, body[:40]
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json().get("field") == field
        if field is None:
            assert "malformed JSON" in answer.json()["detail"]
    assert client.post("/api/v1/integrations/grafana/not-a-key", content=raw(GRAFANA)).status_code == 401
    assert client.post("/api/v1/integrations/grafana", content=raw(GRAFANA)).status_code == 401
    assert client.post(url, content=TOO_BIG).status_code == 413
    assert alerts(client, personas) == []


# ---- generic JSON webhooks ---------------------------------------------------------------

UPTIME_MAPPING = {
    "summary": "$.check.name",
    "dedup_key": "$.check.id",
    "severity": "$.level",
    "status": "$.state",
    "labels": {"region": "$.probe.region"},
}


def uptime(state: str) -> dict[str, Any]:
    return {
        "check": {"id": 17, "name": "Checkout is down"},
        "level": "critical",
        "state": state,
        "probe": {"region": "eu"},
    }


def test_a_generic_webhook_opens_deduplicates_acknowledges_and_resolves_by_its_mapping(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="generic", mapping=UPTIME_MAPPING)
    url = f"/api/v1/integrations/generic/{key}"
    results = [
        client.post(url, json=uptime(state)).json()["results"][0]["result"]
        for state in ("down", "down", "acknowledged")
    ]
    assert results == ["created", "repeated", "acknowledged"]
    [stored] = alerts(client, personas)
    assert (stored["dedup_key"], stored["summary"], stored["severity"], stored["count"]) == (
        "17",
        "Checkout is down",
        "P1",
        2,
    )
    assert stored["labels"] == {"region": "eu"}
    assert incidents(client, personas)[0]["status"] == "acknowledged"
    answer = client.post(url, json=uptime("OK"), headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 202
    assert answer.json()["results"][0]["result"] == "resolved"
    assert client.post(url, json=uptime("OK")).json()["results"][0]["result"] == "ignored"
    assert incidents(client, personas)[0]["status"] == "monitoring"


def test_one_generic_body_can_carry_several_alerts(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="generic", mapping={"alerts": "$.alerts[*]", "summary": "$.title", "dedup_key": "$.id"})
    body = {"alerts": [{"id": "a", "title": "A down"}, {"id": "b", "title": "B down"}]}
    answer = client.post("/api/v1/integrations/generic", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 202
    assert answer.json()["alerts"] == 2
    assert [a["dedup_key"] for a in alerts(client, personas)] == ["a", "b"]
    assert client.post(f"/api/v1/integrations/generic/{key}", json={"alerts": []}).json()["alerts"] == 0


def test_a_generic_body_without_a_mapped_field_is_422_naming_the_path_and_stores_nothing(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="generic", mapping=UPTIME_MAPPING)
    url = f"/api/v1/integrations/generic/{key}"
    for body, field in (
        ({**uptime("down"), "check": {"id": 17}}, "$.check.name"),
        ({**uptime("down"), "probe": {}}, "$.probe.region"),
        ({**uptime("down"), "level": ["critical"]}, "$.level"),
        ([uptime("down")], "$.check.name"),
    ):
        answer = client.post(url, json=body)
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["field"] == field
        assert "mapping." in answer.json()["detail"]
    several = make_integration(kind="generic", mapping={"alerts": "$.alerts[*]", "summary": "$.title"})
    answer = client.post(f"/api/v1/integrations/generic/{several}", json={"alerts": [{"title": "A"}, {"name": "B"}]})
    assert answer.json()["field"] == "$.alerts[1].title"
    assert alerts(client, personas) == []


def test_bad_generic_bodies_and_keys_are_refused(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    key = make_integration(kind="generic", mapping=UPTIME_MAPPING)
    url = f"/api/v1/integrations/generic/{key}"
    malformed = client.post(url, content=b'{"check": ')
    assert malformed.status_code == 422
    assert "malformed JSON" in malformed.json()["detail"]
    assert client.post(url, content=b"").status_code == 400
    assert client.post(url, content=b'{"state": NaN}').status_code == 422
    assert client.post("/api/v1/integrations/generic/not-a-key", json=uptime("down")).status_code == 401
    assert client.post("/api/v1/integrations/generic", json=uptime("down")).status_code == 401
    assert client.post(url, content=TOO_BIG).status_code == 413
    assert alerts(client, personas) == []


def test_an_integration_whose_mapping_cannot_be_used_says_so_and_stores_nothing(
    client: TestClient, personas: Personas, make_integration: MakeIntegration
) -> None:
    native = make_integration()
    answer = client.post(f"/api/v1/integrations/generic/{native}", json=uptime("down"))
    assert (answer.status_code, answer.json()["field"]) == (422, "settings.mapping")
    # A mapping no body could satisfy is refused when the integration is made.
    refused = client.post(
        "/api/v1/integrations",
        json={"service": "api", "kind": "generic", "settings": {"mapping": {"summary": "check.name"}}},
        headers=personas.bob.headers,
    )
    assert (refused.status_code, refused.json()["field"]) == (422, "settings.mapping.summary")
    assert "a path starts with '$'" in refused.json()["detail"]
    assert alerts(client, personas) == []
