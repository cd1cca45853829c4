"""Sentry's envelope and store URLs through the fast path: the answers FastAPI's routes give,
refusals included, and the crashes the crash writer stores."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.api.test_fastpath import Ways
from tests.conftest import Personas
from tests.support.protocols import raw
from tocsin.api.fastpath import ROUTES, Dispatcher
from tocsin.api.routes import crashes
from tocsin.app import create_app
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.services import integrations
from tocsin.services.actor import Actor
from tocsin.storage.models import CrashEvent

ENVELOPE = raw("sentry_envelope_exception.envelope")
SENTRY = ("/api/{project_id:path}/envelope/", "/api/{project_id:path}/store/")


@pytest.fixture
def ways(settings: Settings, clock: FrozenClock, sessions: sessionmaker[Session]) -> Iterator[Ways]:
    fast = create_app(settings, clock, sessions)
    routed = create_app(settings, clock, sessions)
    routed.fast_path = False
    with TestClient(fast) as fast_client, TestClient(routed) as routed_client:
        yield Ways(fast_client, routed_client)


def test_the_sentry_templates_are_the_documented_routes_and_match_as_starlette_would() -> None:
    documented = {route.path for route in crashes.router.routes if isinstance(route, APIRoute)}
    assert {"/api/{project_id}/envelope/", "/api/{project_id}/store/"} <= documented
    dispatcher = Dispatcher(ROUTES)
    matched = dispatcher.match("/api/17/envelope/")
    assert matched is not None
    assert (matched[0].path, matched[1]) == (SENTRY[0], "17")
    store = dispatcher.match("/api/17/store/")
    assert store is not None
    assert store[0].path == SENTRY[1]
    assert dispatcher.match("/api/v1/crashes/3/resolve") is None  # the management API stays FastAPI's
    assert dispatcher.match("/api/17/envelope") is None


def project(sessions: sessionmaker[Session], clock: FrozenClock) -> tuple[int, str]:
    with sessions() as db:
        created = integrations.create(db, Actor.system("tests"), clock.now(), service_key="api", kind="sentry")
        db.commit()
        return created.row.id, created.key


def exchange(client: TestClient, project_id: int, key: str) -> list[tuple[int, str, Any]]:
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}
    event = json.loads(ENVELOPE.split(b"\n")[2])
    fresh = uuid.uuid4().hex
    requests: list[tuple[str, bytes, dict[str, str]]] = [
        (f"/api/{project_id}/envelope/", gzip.compress(ENVELOPE), {**auth, "Content-Encoding": "gzip"}),
        (f"/api/{project_id}/envelope/?sentry_key={key}", ENVELOPE, {}),
        (f"/api/{project_id}/store/", json.dumps({**event, "event_id": fresh}).encode(), auth),
        (f"/api/{project_id}/envelope/", ENVELOPE, {"X-Sentry-Auth": "Sentry sentry_key=" + "0" * 32}),
        (f"/api/{project_id + 1}/envelope/", ENVELOPE, auth),
        ("/api/shop/envelope/", ENVELOPE, auth),
        (f"/api/{project_id}/envelope/", b'{}\n{"type":"event"}\n[]\n', auth),
        (f"/api/{project_id}/envelope/", ENVELOPE, {**auth, "Content-Encoding": "gzip"}),
    ]
    answers = []
    for url, body, headers in requests:
        answer = client.post(url, content=body, headers=headers)
        body = answer.json()
        if "detail" in body:  # the two runs' projects have their own ids
            body["detail"] = body["detail"].replace(f"project {project_id + 1}", "the next project")
        answers.append((answer.status_code, answer.headers["content-type"], body))
    return answers


def test_every_answer_is_the_same_through_the_fast_path_and_through_fastapi(
    ways: Ways, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    fast = exchange(ways.fast, *project(sessions, clock))
    stored = _events(sessions)
    routed = exchange(ways.routed, *project(sessions, clock))
    # The store event's id is made per run; the rest is the same answer either way.
    assert [a[:2] for a in fast] == [a[:2] for a in routed]
    assert [a[2] for i, a in enumerate(fast) if i != 2] == [a[2] for i, a in enumerate(routed) if i != 2]
    assert [status for status, *_ in fast] == [200, 200, 200, 401, 403, 400, 422, 400]
    assert stored == 2  # the captured event (sent twice, counted once) and the store event
    assert _events(sessions) == 4


def _events(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count()).select_from(CrashEvent)) or 0)
