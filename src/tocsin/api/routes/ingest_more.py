"""Ingest endpoints for Opsgenie's Alert API, Grafana alerting and generic JSON webhooks.

Opsgenie's endpoints answer in Opsgenie's shapes, errors included, because its
clients read them; Grafana and the generic webhook answer like the Alertmanager
endpoint, with problem+json errors. Each answers 2xx only after the signals are
committed, and rejected input stores nothing. Like those of `ingest`, the
route functions are also called by `tocsin.api.fastpath`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tocsin.api.problems import problem
from tocsin.api.routes.ingest import (
    FastJSONResponse,
    authenticate,
    ingest_signals,
    invalid_payload,
    key_from,
    machinery,
    outcome_json,
    retry_after,
    throttled,
    too_many,
)
from tocsin.domain.alerts import Action, AlertStatus, Signal
from tocsin.integrations import generic, grafana, opsgenie
from tocsin.integrations.errors import BadPayload
from tocsin.observability import INGEST_REJECTED
from tocsin.services.integrations import IntegrationRef
from tocsin.storage.repositories import alerts as repo

router = APIRouter(tags=["ingest"])


# ---- Opsgenie Alert API -----------------------------------------------------

_UNPROCESSABLE = "Request body is not processable. Please check the errors."
_TOO_MANY = "You are making too many requests! To avoid errors, we recommend you limit requests."


def _genie_answer(
    status: int, started: float, request_id: str | None = None, headers: dict[str, str] | None = None, **body: Any
) -> JSONResponse:
    request_id = request_id or str(uuid.uuid4())
    content = {**body, "took": round(time.perf_counter() - started, 3), "requestId": request_id}
    return FastJSONResponse(content, status_code=status, headers={"X-Request-ID": request_id, **(headers or {})})


def _genie_accepted(started: float, alert_id: int | None) -> JSONResponse:
    return _genie_answer(202, started, opsgenie.request_id(alert_id), result="Request will be processed")


def _genie_rejected(exc: BadPayload, started: float) -> JSONResponse:
    INGEST_REJECTED.labels("bad_payload").inc()
    if isinstance(exc, opsgenie.NotJson):
        reason = exc.errors[0][1].removeprefix("malformed JSON: ")
        return _genie_answer(400, started, message=f"Invalid JSON body: {reason}")
    errors = {field or "body": message for field, message in exc.errors}
    return _genie_answer(422, started, message=_UNPROCESSABLE, errors=errors)


def _genie_key(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "geniekey":
        return None
    return value.strip() or None


async def _genie_integration(request: Request, started: float) -> IntegrationRef | JSONResponse:
    key = _genie_key(request)
    _writer, cache, _limiter = machinery(request)
    integration = await cache.get(key) if key else None
    if integration is None or integration.disabled:
        INGEST_REJECTED.labels("bad_key" if key else "no_key").inc()
        return _genie_answer(401, started, message="Could not authenticate")
    return integration


def _genie_throttled(request: Request, integration: IntegrationRef, started: float) -> JSONResponse | None:
    wait = throttled(request, integration, 1)
    return _genie_answer(429, started, headers=retry_after(wait), message=_TOO_MANY) if wait else None


@router.post("/v2/alerts", status_code=202)
async def opsgenie_create(request: Request) -> JSONResponse:
    """Opsgenie Alert API: create an alert. Authenticate with `Authorization: GenieKey <integration key>`."""
    started = time.perf_counter()
    integration = await _genie_integration(request, started)
    if isinstance(integration, JSONResponse):
        return integration
    try:
        signal = opsgenie.parse_create(await request.body())
    except BadPayload as exc:
        return _genie_rejected(exc, started)
    if refused := _genie_throttled(request, integration, started):
        return refused
    [outcome] = await ingest_signals(request, integration, [signal])
    return _genie_accepted(started, outcome.alert_id)


async def _alert_named(request: Request, integration: IntegrationRef, number: int) -> tuple[str, str] | None:
    """The status and dedup key of this integration's alert with that number."""

    def load() -> tuple[str, str] | None:
        with request.app.state.tocsin.sessions() as session:
            alert = repo.alert_by_id(session, number)
            if alert is None or alert.integration_id != integration.id:
                return None
            return alert.status, alert.dedup_key

    return await run_in_threadpool(load)


async def _genie_act(request: Request, identifier: str, identifier_type: str, action: Action) -> JSONResponse:
    started = time.perf_counter()
    integration = await _genie_integration(request, started)
    if isinstance(integration, JSONResponse):
        return integration
    if identifier_type not in opsgenie.IDENTIFIER_TYPES:
        INGEST_REJECTED.labels("bad_payload").inc()
        allowed = ", ".join(opsgenie.IDENTIFIER_TYPES)
        errors = {"identifierType": f"must be one of {allowed}; got {identifier_type[:50]!r}"}
        return _genie_answer(422, started, message=_UNPROCESSABLE, errors=errors)
    if not identifier.strip():
        INGEST_REJECTED.labels("bad_payload").inc()
        return _genie_answer(422, started, message=_UNPROCESSABLE, errors={"identifier": "can not be empty"})
    number = None
    if identifier_type == "alias":
        key: str | None = opsgenie.dedup_key(identifier)
    else:
        number = opsgenie.alert_number(identifier)
        named = await _alert_named(request, integration, number) if number else None
        if named is None:
            INGEST_REJECTED.labels("unknown_alert").inc()
            message = f"Alert does not exist: this integration has no alert with {identifier_type} [{identifier[:100]}]"
            return _genie_answer(404, started, message=message)
        status, found = named
        # A closed alert stays closed: acting on its key would hit a newer alert that reuses it.
        key = found if status == AlertStatus.FIRING.value else None
    try:
        signal = opsgenie.parse_action(await request.body(), action, key or "")
    except BadPayload as exc:
        return _genie_rejected(exc, started)
    if refused := _genie_throttled(request, integration, started):
        return refused
    # Like Opsgenie, an alias that names no open alert is accepted and changes nothing.
    outcomes = await ingest_signals(request, integration, [signal]) if key else []
    return _genie_accepted(started, outcomes[0].alert_id if outcomes else number)


_DEFAULT_IDENTIFIER_TYPE = "id"


def identifier_type_of(request: Request) -> str:
    """`?identifierType=` read as FastAPI reads the routes' query parameter (the last one wins):
    what the fast path passes them."""
    return request.query_params.get("identifierType", _DEFAULT_IDENTIFIER_TYPE)


@router.post("/v2/alerts/{identifier:path}/acknowledge", status_code=202)
async def opsgenie_acknowledge(
    identifier: str,
    request: Request,
    identifier_type: str = Query(_DEFAULT_IDENTIFIER_TYPE, alias="identifierType"),
) -> JSONResponse:
    """Opsgenie Alert API: acknowledge an alert by `alias`, or by `id`/`tiny` (its Tocsin number or request id)."""
    return await _genie_act(request, identifier, identifier_type, Action.ACKNOWLEDGE)


@router.post("/v2/alerts/{identifier:path}/close", status_code=202)
async def opsgenie_close(
    identifier: str,
    request: Request,
    identifier_type: str = Query(_DEFAULT_IDENTIFIER_TYPE, alias="identifierType"),
) -> JSONResponse:
    """Opsgenie Alert API: close an alert; it resolves the Tocsin alert."""
    return await _genie_act(request, identifier, identifier_type, Action.RESOLVE)


# ---- shared by Grafana and the generic webhook --------------------------------


async def _accept(request: Request, integration: IntegrationRef, signals: list[Signal], **extra: Any) -> JSONResponse:
    outcomes = await ingest_signals(request, integration, signals) if signals else []
    return FastJSONResponse(
        {"status": "accepted", "alerts": len(signals), **extra, "results": [outcome_json(o) for o in outcomes]},
        status_code=202,
    )


# ---- Grafana alerting ---------------------------------------------------------


def _first_header(request: Request, names: Iterable[str]) -> str | None:
    return next((request.headers[name] for name in names if name in request.headers), None)


async def _grafana(request: Request, path_key: str | None) -> JSONResponse:
    integration = await authenticate(request, key_from(request, path_key))
    if isinstance(integration, JSONResponse):
        return integration
    body = await request.body()
    if integration.signing_secret:
        signature = _first_header(request, grafana.SIGNATURE_HEADERS)
        timestamp = _first_header(request, grafana.TIMESTAMP_HEADERS)
        try:
            grafana.verify(integration.signing_secret, body, signature, timestamp, request.app.state.tocsin.clock.now())
        except grafana.BadSignature as exc:
            INGEST_REJECTED.labels("bad_signature").inc()
            return problem(401, "Bad signature", str(exc), field=grafana.SIGNATURE_HEADERS[0])
    try:
        webhook, signals = grafana.parse(body)
    except BadPayload as exc:
        return invalid_payload(body, exc)
    # One request is one notification of a group, as with Alertmanager.
    if wait := throttled(request, integration, 1):
        return too_many(wait)
    return await _accept(request, integration, signals, truncated_alerts=webhook.truncatedAlerts)


@router.post("/api/v1/integrations/grafana", status_code=202)
@router.put("/api/v1/integrations/grafana", status_code=202)
async def grafana_webhook(request: Request) -> JSONResponse:
    """Grafana alerting webhook contact point with `Authorization: Bearer <key>` (or Basic, the key as password).
    With a signing secret on the integration, Grafana's HMAC signature is required."""
    return await _grafana(request, None)


@router.post("/api/v1/integrations/grafana/{key}", status_code=202)
@router.put("/api/v1/integrations/grafana/{key}", status_code=202)
async def grafana_webhook_keyed(key: str, request: Request) -> JSONResponse:
    """Grafana alerting webhook contact point with the integration key in the URL."""
    return await _grafana(request, key)


# ---- generic JSON webhook -----------------------------------------------------


async def _generic(request: Request, path_key: str | None) -> JSONResponse:
    integration = await authenticate(request, key_from(request, path_key))
    if isinstance(integration, JSONResponse):
        return integration
    try:
        mapping = generic.Mapping.of(integration.settings.get("mapping"))
    except generic.MappingError as exc:
        INGEST_REJECTED.labels("bad_mapping").inc()
        detail = f"this integration's settings.{exc.field} is wrong: {exc.message}; no body can be read with it"
        return problem(422, "Integration not mapped", detail, field=f"settings.{exc.field}")
    body = await request.body()
    try:
        signals = generic.parse(body, mapping)
    except BadPayload as exc:
        return invalid_payload(body, exc)
    if wait := throttled(request, integration, max(1, len(signals))):
        return too_many(wait)
    return await _accept(request, integration, signals)


@router.post("/api/v1/integrations/generic", status_code=202)
async def generic_webhook(request: Request) -> JSONResponse:
    """Any JSON webhook, read with the integration's `settings.mapping` of JSON paths.
    Authenticate with `Authorization: Bearer <key>`."""
    return await _generic(request, None)


@router.post("/api/v1/integrations/generic/{key}", status_code=202)
async def generic_webhook_keyed(key: str, request: Request) -> JSONResponse:
    """The same, with the integration key in the URL."""
    return await _generic(request, key)
