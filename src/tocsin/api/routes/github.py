"""The GitHub webhook: `POST /api/v1/integrations/github/<key>`, the hook's Payload URL.

GitHub cannot send an Authorization header, so the key is in the URL; with a
secret on the integration, `X-Hub-Signature-256` must match the raw body, and
a wrong or missing one is a 401 that stores nothing. The answer is 202 once
the delivery is committed; a redelivery (the same `X-GitHub-Delivery`) and an
event Tocsin does not read are 202 too, changing nothing, because GitHub marks
any other answer as a failed delivery.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tocsin.api.deps import AppState
from tocsin.api.problems import problem
from tocsin.api.routes.ingest import FastJSONResponse, authenticate, invalid_payload, outcome_json, throttled, too_many
from tocsin.integrations import github as formats
from tocsin.integrations.errors import BadPayload
from tocsin.observability import GITHUB_DELIVERIES, INGEST_REJECTED
from tocsin.services import github

router = APIRouter(tags=["ingest"])


@router.post("/api/v1/integrations/github/{key}", status_code=202)
async def github_webhook(key: str, request: Request) -> JSONResponse:
    """A GitHub webhook delivery (content type `application/json`, or the form type). Events read:
    workflow_run, workflow_job, check_suite, deployment_status, push, pull_request, release, ping;
    others are accepted and ignored."""
    integration = await authenticate(request, key)
    if isinstance(integration, JSONResponse):
        return integration
    body = await request.body()
    if integration.signing_secret:
        try:
            formats.verify(integration.signing_secret, body, request.headers.get(formats.SIGNATURE_HEADER))
        except formats.BadSignature as exc:
            INGEST_REJECTED.labels("bad_signature").inc()
            return problem(401, "Bad signature", str(exc), field=formats.SIGNATURE_HEADER)
    event = request.headers.get(formats.EVENT_HEADER, "").strip()
    if not event:
        INGEST_REJECTED.labels("bad_payload").inc()
        detail = f"{formats.EVENT_HEADER} is missing: GitHub names the event in it"
        return problem(400, "Invalid webhook", detail, field=formats.EVENT_HEADER)
    delivery_id = request.headers.get(formats.DELIVERY_HEADER)
    if (wrong := formats.delivery_problem(delivery_id)) is not None or delivery_id is None:
        INGEST_REJECTED.labels("bad_payload").inc()
        return problem(400, "Invalid webhook", wrong or "", field=formats.DELIVERY_HEADER)
    delivery_key = delivery_id.strip()
    try:
        delivery = formats.parse(event, formats.json_body(body, request.headers.get("content-type", "")))
    except BadPayload as exc:
        return invalid_payload(body, exc)
    if wait := throttled(request, integration, 1):
        return too_many(wait)
    state: AppState = request.app.state.tocsin

    def write() -> github.Received:
        with state.sessions() as session:
            received = github.receive(session, state.clock.now(), integration, delivery_key, delivery)
            session.commit()
            return received

    received = await run_in_threadpool(write)
    if received.opened and state.wake_engine is not None:
        state.wake_engine()
    if received.duplicate:
        status = "duplicate"
    elif delivery.empty and event != "ping":
        status = "ignored"
    else:
        status = "accepted"
    GITHUB_DELIVERIES.labels(event if delivery.known else "other", status).inc()
    answer: dict[str, Any] = {
        "status": status,
        "event": event,
        "delivery": delivery_key,
        "alerts": [outcome_json(outcome) for outcome in received.alerts],
        "changes": received.changes,
        "dev_events": received.dev_events,
    }
    if received.failing:
        answer["failing"] = received.failing
    if delivery.zen is not None:
        answer["zen"] = delivery.zen
    return FastJSONResponse(answer, status_code=202)
