"""The ingest fast path: every ingest URL answers as its documented FastAPI route does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.protocols import raw
from tocsin.api.fastpath import ROUTES, Dispatcher, Template
from tocsin.api.routes import ingest, ingest_more
from tocsin.app import create_app
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.errors import ValidationFailed
from tocsin.services import integrations
from tocsin.services.actor import Actor

MakeIntegration = Callable[[str], str]
ACK = "/v2/alerts/{identifier:path}/acknowledge"
CLOSE = "/v2/alerts/{identifier:path}/close"
# The heartbeat ping URLs ride the fast path too; tests/api/test_ping_fastpath.py covers them,
# and tests/api/test_crash_fastpath.py Sentry's envelope and store URLs.
INGEST_ROUTES = tuple(template for template in ROUTES if not template.path.startswith(("/ping/", "/api/{project_id")))


@pytest.fixture
def make_integration(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> MakeIntegration:
    def make(kind: str) -> str:
        settings: dict[str, object] = {}
        if kind == "generic":
            settings["mapping"] = {"summary": "$.title", "dedup_key": "$.id", "status": "$.state"}
        with sessions() as db:
            created = integrations.create(
                db, Actor.system("tests"), clock.now(), service_key="api", kind=kind, settings=settings
            )
            db.commit()
            return created.key

    return make


@dataclass
class Ways:
    """One database, two apps: the server as built, and the same app without its fast path."""

    fast: TestClient
    routed: TestClient


@pytest.fixture
def ways(settings: Settings, clock: FrozenClock, sessions: sessionmaker[Session]) -> Iterator[Ways]:
    fast = create_app(settings, clock, sessions)
    routed = create_app(settings, clock, sessions)
    routed.fast_path = False
    with TestClient(fast) as fast_client, TestClient(routed) as routed_client:
        yield Ways(fast_client, routed_client)


# ---- matching ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/events", ("/api/v1/events", "")),
        ("/api/v1/events/k3y", ("/api/v1/events/{key}", "k3y")),
        ("/v2/enqueue", ("/v2/enqueue", "")),
        ("/v2/change/enqueue", ("/v2/change/enqueue", "")),
        ("/api/v1/integrations/alertmanager", ("/api/v1/integrations/alertmanager", "")),
        ("/api/v1/integrations/alertmanager/k3y", ("/api/v1/integrations/alertmanager/{key}", "k3y")),
        ("/v2/alerts", ("/v2/alerts", "")),
        ("/v2/alerts/disk-full/acknowledge", (ACK, "disk-full")),
        ("/v2/alerts/a/b/close", (CLOSE, "a/b")),  # Starlette's `path` convertor takes slashes
        ("/v2/alerts//close", (CLOSE, "")),  # … and nothing: the handler answers 422
        ("/api/v1/integrations/grafana", ("/api/v1/integrations/grafana", "")),
        ("/api/v1/integrations/grafana/k3y", ("/api/v1/integrations/grafana/{key}", "k3y")),
        ("/api/v1/integrations/generic", ("/api/v1/integrations/generic", "")),
        ("/api/v1/integrations/generic/k3y", ("/api/v1/integrations/generic/{key}", "k3y")),
        # Not ingest URLs: FastAPI answers them (404, or a redirect without the slash).
        ("/api/v1/events/", None),
        ("/api/v1/events/k3y/", None),
        ("/api/v1/events/k3y/extra", None),
        ("/v2/enqueue/k3y", None),
        ("/v2/alerts/", None),
        ("/v2/alerts/acknowledge", None),
        ("/v2/alerts/x/close/", None),
        ("/api/v1/integrations", None),
        ("/api/v1/incidents", None),
    ],
)
def test_it_matches_ingest_urls_as_starlette_would(path: str, expected: tuple[str, str] | None) -> None:
    matched = Dispatcher(ROUTES).match(path)
    assert (None if matched is None else (matched[0].path, matched[1])) == expected


def test_it_serves_exactly_the_documented_ingest_routes() -> None:
    documented = {
        (route.path, method)
        for module in (ingest, ingest_more)
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert documented == {(template.path, method) for template in INGEST_ROUTES for method in template.methods}


def test_a_template_it_cannot_match_is_refused_at_start() -> None:
    async def handler(_request: Any, _parameter: str) -> Any:
        raise AssertionError

    with pytest.raises(ValueError, match="cannot match"):
        Dispatcher([Template("/v2/{kind}/enqueue", frozenset({"POST"}), handler)])


# ---- the same answers either way ---------------------------------------------------


Answer = tuple[str, str, int, str, Any]
VOLATILE = {"alert_id", "incident", "took", "requestId"}  # ids and timings differ between the two runs


def _steady(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _steady(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [_steady(item) for item in body]
    return body


def exchange(client: TestClient, keys: dict[str, str]) -> list[Answer]:
    """One request for every fast-path template (and a few refusals), and what came back."""
    answers: list[Answer] = []

    def send(method: str, url: str, template: str, **kwargs: Any) -> Any:
        answer = client.request(method, url, **kwargs)
        answers.append((method, template, answer.status_code, answer.headers["content-type"], _steady(answer.json())))
        return answer.json()

    def bearer(kind: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[kind]}"}

    genie = {"Authorization": f"GenieKey {keys['opsgenie']}"}
    event = {"action": "trigger", "dedup_key": "disk", "summary": "Disk full", "severity": "critical"}
    send("POST", "/api/v1/events", "/api/v1/events", json=event, headers=bearer("native"))
    send("POST", f"/api/v1/events/{keys['native']}", "/api/v1/events/{key}", json=event)
    send("POST", f"/api/v1/events/{keys['native']}", "/api/v1/events/{key}", json=[event, {**event, "dedup_key": "b"}])
    send("POST", "/api/v1/events/not-a-key", "/api/v1/events/{key}", json=event)
    send("POST", f"/api/v1/events/{keys['native']}", "/api/v1/events/{key}", content=b'{"action": "trig')
    pd = {"routing_key": keys["pagerduty"], "event_action": "trigger"}
    payload = {"summary": "Checkout 5xx", "source": "lb-1", "severity": "error"}
    send("POST", "/v2/enqueue", "/v2/enqueue", json={**pd, "dedup_key": "5xx", "payload": payload})
    send("POST", "/v2/enqueue", "/v2/enqueue", json=pd)
    change = {"routing_key": keys["pagerduty"], "payload": {"summary": "Deployed v2", "source": "ci"}}
    send("POST", "/v2/change/enqueue", "/v2/change/enqueue", json=change)
    firing = raw("alertmanager_webhook_from_prometheus_firing.json")
    resolved = raw("alertmanager_webhook_from_prometheus_resolved.json")
    am = "/api/v1/integrations/alertmanager"
    send("POST", am, am, content=firing, headers=bearer("alertmanager"))
    send("POST", f"{am}/{keys['alertmanager']}", f"{am}/{{key}}", content=resolved)
    created = send("POST", "/v2/alerts", "/v2/alerts", json={"message": "Queue stuck", "alias": "queue"}, headers=genie)
    send("POST", "/v2/alerts/queue/acknowledge?identifierType=alias", ACK, json={"note": "mine"}, headers=genie)
    send("POST", f"/v2/alerts/{created['requestId']}/close", CLOSE, json={}, headers=genie)
    send("POST", "/v2/alerts/queue/close?identifierType=alias&identifierType=id", CLOSE, json={}, headers=genie)
    send("POST", "/v2/alerts//close?identifierType=alias", CLOSE, json={}, headers=genie)
    send("POST", "/v2/alerts/queue/close?identifierType=name", CLOSE, json={}, headers=genie)
    grafana = raw("grafana_webhook_docs_example.json")
    gf = "/api/v1/integrations/grafana"
    send("PUT", gf, gf, content=grafana, headers=bearer("grafana"))
    send("POST", f"{gf}/{keys['grafana']}", f"{gf}/{{key}}", content=grafana)
    generic = "/api/v1/integrations/generic"
    keyed = f"{generic}/{keys['generic']}"
    send("POST", generic, generic, json={"id": "g", "title": "Probe down", "state": "down"}, headers=bearer("generic"))
    send("POST", keyed, f"{generic}/{{key}}", json={"id": "g", "title": "Probe", "state": "ok"})
    send("POST", keyed, f"{generic}/{{key}}", json={"title": "no id, no state"})
    return answers


KINDS = ("native", "pagerduty", "alertmanager", "opsgenie", "grafana", "generic")


def requests_counted(method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("tocsin_http_requests_total", labels) or 0.0


def test_every_ingest_url_answers_the_same_through_the_fast_path_and_through_fastapi(
    ways: Ways, make_integration: MakeIntegration, capsys: pytest.CaptureFixture[str]
) -> None:
    fast_keys = {kind: make_integration(kind) for kind in KINDS}
    routed_keys = {kind: make_integration(kind) for kind in KINDS}
    counted_before = {(m, t.path): requests_counted(m, t.path, 202) for t in ROUTES for m in t.methods}
    capsys.readouterr()

    fast = exchange(ways.fast, fast_keys)

    logged = capsys.readouterr().out
    routed = exchange(ways.routed, routed_keys)
    assert fast == routed
    assert {template for _method, template, *_ in fast} == {template.path for template in INGEST_ROUTES}
    assert {status for *_, status, _type, _body in fast} == {202, 400, 401, 404, 422}
    # Logged and counted by template, and never with a key in sight.
    for method, template, status, *_ in fast:
        assert f"path={template} status={status}" in logged
        if status == 202:
            assert requests_counted(method, template, 202) > counted_before[(method, template)]
    assert not any(key in logged for key in fast_keys.values())


def test_the_pagerduty_answers_keep_their_exact_shape(ways: Ways, make_integration: MakeIntegration) -> None:
    key = make_integration("pagerduty")
    body = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "srv01/checkout-5xx",
        "payload": {"summary": "s", "source": "h", "severity": "error"},
    }
    for client in (ways.fast, ways.routed):
        accepted = client.post("/v2/enqueue", json=body)
        assert accepted.status_code == 202
        assert accepted.headers["content-type"] == "application/json"
        assert accepted.json() == {"status": "success", "message": "Event processed", "dedup_key": "srv01/checkout-5xx"}
        refused = client.post("/v2/enqueue", json={"routing_key": key, "event_action": "trigger"})
        assert (refused.status_code, refused.json()) == (
            400,
            {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["Value error, 'payload' is missing or blank"],
            },
        )


class FailingWriter:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def submit(self, *_args: object) -> list[object]:
        raise self.error


def test_an_error_from_a_handler_gets_the_answer_fastapi_would_give(
    ways: Ways, make_integration: MakeIntegration
) -> None:
    key = make_integration("native")
    event = {"action": "trigger", "summary": "s"}
    for client in (ways.fast, ways.routed):
        cast(FastAPI, client.app).state.ingest_writer = FailingWriter(ValidationFailed("no such thing", field="x"))
        answer = client.post(f"/api/v1/events/{key}", json=event)
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["field"] == "x"
        cast(FastAPI, client.app).state.ingest_writer = FailingWriter(RuntimeError("database gone"))
        with pytest.raises(RuntimeError, match="database gone"):
            client.post(f"/api/v1/events/{key}", json=event)
