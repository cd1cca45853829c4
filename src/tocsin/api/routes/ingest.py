"""Ingest endpoints: the native API, PagerDuty Events v2 and the Alertmanager webhook.

Authenticated by integration keys, not API tokens: in the URL path, or in the
sender's own scheme (Bearer, Basic password, PagerDuty's `routing_key`).
Each answers 2xx only after the signals are committed.

The route functions are also what `tocsin.api.fastpath` calls, ahead of
FastAPI's router: a change here changes both ways in.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tocsin.api.ingest import IntegrationCache, RateLimiter, SignalWriter
from tocsin.api.problems import problem
from tocsin.domain.alerts import Signal
from tocsin.integrations import alertmanager, native, pagerduty
from tocsin.integrations.errors import BadPayload
from tocsin.observability import INGEST_REJECTED
from tocsin.services.alerts import Outcome
from tocsin.services.integrations import IntegrationRef

router = APIRouter(tags=["ingest"])


class FastJSONResponse(JSONResponse):
    """JSON written by orjson: in a storm the ingest answers are most of what the
    server sends, and a batch answer of 100 results renders in 9 µs instead of
    Starlette's 125 µs. The same compact UTF-8, except that a NaN, which Starlette
    refuses, would be written as null; none of these answers carries a float but
    Opsgenie's `took`."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def machinery(request: Request) -> tuple[SignalWriter, IntegrationCache, RateLimiter]:
    state = request.app.state
    return state.ingest_writer, state.integration_cache, state.rate_limiter


def key_from(request: Request, path_key: str | None = None) -> str | None:
    """The integration key: in the path, as a Bearer token, or as a Basic-auth password."""
    if path_key:
        return path_key
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return request.headers.get("x-routing-key") or None


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "dedup_key": outcome.dedup_key,
        "result": outcome.result.value,
        "alert_id": outcome.alert_id,
        "incident": outcome.incident,
        "held_by": outcome.held_by,
    }


async def authenticate(request: Request, key: str | None) -> IntegrationRef | JSONResponse:
    if not key:
        INGEST_REJECTED.labels("no_key").inc()
        return problem(
            401, "Unauthenticated", "send the integration key in the URL or as 'Authorization: Bearer <key>'"
        )
    _writer, cache, _limiter = machinery(request)
    integration = await cache.get(key)
    if integration is None or integration.disabled:
        INGEST_REJECTED.labels("bad_key").inc()
        return problem(401, "Unauthenticated", "unknown or disabled integration key")
    return integration


def throttled(request: Request, integration: IntegrationRef, cost: int) -> float:
    _writer, _cache, limiter = machinery(request)
    wait = limiter.take(integration.id, cost)
    if wait:
        INGEST_REJECTED.labels("rate_limited").inc()
    return wait


def retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}


async def ingest_signals(request: Request, integration: IntegrationRef, signals: Sequence[Signal]) -> list[Outcome]:
    writer, _cache, _limiter = machinery(request)
    return await writer.submit(integration, signals)


def invalid_payload(body: bytes, exc: BadPayload, title: str = "Invalid webhook") -> JSONResponse:
    """The problem answer for a body no adapter could read: 400 when empty, else 422 naming each field."""
    INGEST_REJECTED.labels("bad_payload").inc()
    errors = [{"field": field or None, "message": message} for field, message in exc.errors]
    return problem(422 if body.strip() else 400, title, str(exc), field=exc.field, errors=errors)


def too_many(wait: float) -> JSONResponse:
    response = problem(429, "Too many requests", f"this integration is over its rate; retry in {math.ceil(wait)} s")
    response.headers.update(retry_after(wait))
    return response


# ---- native ----------------------------------------------------------------


async def _native(request: Request, path_key: str | None) -> JSONResponse:
    integration = await authenticate(request, key_from(request, path_key))
    if isinstance(integration, JSONResponse):
        return integration
    body = await request.body()
    try:
        signals, batch = native.parse(body)
    except BadPayload as exc:
        return invalid_payload(body, exc, "Invalid event")
    wait = throttled(request, integration, len(signals))
    if wait:
        return too_many(wait)
    outcomes = await ingest_signals(request, integration, signals)
    if batch:
        return FastJSONResponse({"status": "accepted", "results": [outcome_json(o) for o in outcomes]}, status_code=202)
    return FastJSONResponse({"status": "accepted", **outcome_json(outcomes[0])}, status_code=202)


@router.post("/api/v1/events", status_code=202)
async def events(request: Request) -> JSONResponse:
    """Trigger, acknowledge or resolve alerts: one event, or a JSON list of up to 1,000.
    Authenticate with the integration key as `Authorization: Bearer <key>`."""
    return await _native(request, None)


@router.post("/api/v1/events/{key}", status_code=202)
async def events_keyed(key: str, request: Request) -> JSONResponse:
    """The same, with the integration key in the URL for senders that cannot set headers."""
    return await _native(request, key)


# ---- PagerDuty Events API v2 ------------------------------------------------


def _pd_invalid(errors: list[str], status: int = 400) -> JSONResponse:
    INGEST_REJECTED.labels("bad_payload").inc()
    return FastJSONResponse(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors}, status_code=status
    )


def _pd_errors(exc: BadPayload) -> list[str]:
    return [f"'{field}' {message}" if field else message for field, message in exc.errors]


async def _pd_integration(request: Request, body: bytes) -> IntegrationRef | JSONResponse:
    key = pagerduty.routing_key(body)
    if key is None:
        return _pd_invalid(["'routing_key' is missing or blank"])
    _writer, cache, _limiter = machinery(request)
    integration = await cache.get(key)
    if integration is None or integration.disabled:
        return _pd_invalid(["Invalid routing key"])
    wait = throttled(request, integration, 1)
    if wait:
        return FastJSONResponse(
            {"status": "throttle event", "message": "Requests for this service are arriving too quickly"},
            status_code=429,
            headers=retry_after(wait),
        )
    return integration


@router.post("/v2/enqueue", status_code=202)
async def pagerduty_enqueue(request: Request) -> JSONResponse:
    """PagerDuty Events API v2: point anything that pages PagerDuty here instead."""
    body = await request.body()
    integration = await _pd_integration(request, body)
    if isinstance(integration, JSONResponse):
        return integration
    try:
        _key, signal = pagerduty.parse(body)
    except BadPayload as exc:
        return _pd_invalid(_pd_errors(exc))
    await ingest_signals(request, integration, [signal])
    return FastJSONResponse(
        {"status": "success", "message": "Event processed", "dedup_key": signal.dedup_key}, status_code=202
    )


@router.post("/v2/change/enqueue", status_code=202)
async def pagerduty_change(request: Request) -> JSONResponse:
    """PagerDuty change events: recorded as changes of the integration's service."""
    body = await request.body()
    integration = await _pd_integration(request, body)
    if isinstance(integration, JSONResponse):
        return integration
    try:
        event = pagerduty.parse_change(body)
    except BadPayload as exc:
        return _pd_invalid(_pd_errors(exc))
    writer, _cache, _limiter = machinery(request)
    await writer.record_change(integration, event, body)
    return FastJSONResponse({"status": "success", "message": "Change event processed"}, status_code=202)


# ---- Prometheus Alertmanager ------------------------------------------------


async def _alertmanager(request: Request, path_key: str | None) -> JSONResponse:
    integration = await authenticate(request, key_from(request, path_key))
    if isinstance(integration, JSONResponse):
        return integration
    body = await request.body()
    try:
        webhook, signals = alertmanager.parse(body)
    except BadPayload as exc:
        return invalid_payload(body, exc)
    # One request is one notification, whatever its size: Alertmanager re-sends
    # the whole group, and a 429 would only delay it to the next group_interval.
    wait = throttled(request, integration, 1)
    if wait:
        return too_many(wait)
    outcomes = await ingest_signals(request, integration, signals) if signals else []
    return FastJSONResponse(
        {
            "status": "accepted",
            "alerts": len(signals),
            "truncated_alerts": webhook.truncatedAlerts,
            "results": [outcome_json(o) for o in outcomes],
        },
        status_code=202,
    )


@router.post("/api/v1/integrations/alertmanager", status_code=202)
async def alertmanager_webhook(request: Request) -> JSONResponse:
    """Alertmanager `webhook_configs` with `http_config.authorization` (Bearer) or `basic_auth`."""
    return await _alertmanager(request, None)


@router.post("/api/v1/integrations/alertmanager/{key}", status_code=202)
async def alertmanager_webhook_keyed(key: str, request: Request) -> JSONResponse:
    """Alertmanager `webhook_configs` with the integration key in the URL."""
    return await _alertmanager(request, key)
