"""The heartbeat ping URLs through the fast path: the answers FastAPI's routes give, and the
pings the group commit stores (each committed before its 200)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.api.test_fastpath import Ways
from tests.conftest import Personas
from tocsin.api.fastpath import ROUTES, Dispatcher
from tocsin.app import create_app
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.domain import heartbeats as domain
from tocsin.services import heartbeats
from tocsin.services.actor import Actor
from tocsin.storage.models import Heartbeat, HeartbeatPing

PING = "/ping/{rest:path}"


@pytest.fixture
def ways(settings: Settings, clock: FrozenClock, sessions: sessionmaker[Session]) -> Iterator[Ways]:
    fast = create_app(settings, clock, sessions)
    routed = create_app(settings, clock, sessions)
    routed.fast_path = False
    with TestClient(fast) as fast_client, TestClient(routed) as routed_client:
        yield Ways(fast_client, routed_client)


def make(sessions: sessionmaker[Session], clock: FrozenClock, name: str) -> str:
    with sessions() as db:
        row = heartbeats.create(
            db, Actor.system("tests"), clock.now(), service_key="api", name=name,
            schedule=domain.Schedule(grace=timedelta(minutes=5), period=timedelta(hours=1)),
        )  # fmt: skip
        db.commit()
        return row.uuid


@pytest.mark.parametrize(
    ("path", "rest"),
    [("/ping/abc", "abc"), ("/ping/abc/start", "abc/start"), ("/ping/abc/3", "abc/3"), ("/ping/", "")],
)
def test_every_ping_url_is_matched_with_what_follows_ping(path: str, rest: str) -> None:
    matched = Dispatcher(ROUTES).match(path)
    assert matched is not None
    assert (matched[0].path, matched[1]) == (PING, rest)


def answers(client: TestClient, code: str) -> list[tuple[str, str, int, str, str]]:
    rid = str(uuid.uuid4())
    tried = []
    for method, path in [
        ("GET", f"/ping/{code}"),
        ("POST", f"/ping/{code}/start?rid={rid}"),
        ("HEAD", f"/ping/{code}/0?rid={rid}"),
        ("GET", f"/ping/{code}/log"),
        ("GET", f"/ping/{code}/fail"),
        ("GET", f"/ping/{code}/7"),
        ("GET", f"/ping/{code}/256"),
        ("GET", f"/ping/{code}/start?rid=nope"),
        ("GET", f"/ping/{code}/bogus"),
        ("GET", f"/ping/{code}/start/more"),
        ("GET", "/ping/6d5c3a9e-0000-4000-8000-00000000dead"),
        ("GET", "/ping/not-a-uuid"),
        ("PUT", f"/ping/{code}"),
    ]:
        answer = client.request(method, path, content=b"backup done\n" if method == "POST" else None)
        shown = path.replace(code, "<uuid>").replace(rid, "<rid>")
        tried.append(
            (method, shown.split("?")[0], answer.status_code, answer.text, answer.headers.get("ping-body-limit", ""))
        )
    return tried


def test_the_ping_urls_answer_the_same_through_the_fast_path_and_through_fastapi(
    ways: Ways, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    fast_code, routed_code = make(sessions, clock, "fast"), make(sessions, clock, "routed")
    fast, routed = answers(ways.fast, fast_code), answers(ways.routed, routed_code)
    # A path deeper than the ping URLs: FastAPI's problem+json 404 there, healthchecks' plain one here.
    deeper = [index for index, (_, path, *_) in enumerate(fast) if path.endswith("/start/more")]
    assert [fast[i][2:4] for i in deeper] == [(404, "not found")]
    assert [routed[i][2] for i in deeper] == [404]
    same = [i for i in range(len(fast) - 1) if i not in deeper]
    assert [fast[i] for i in same] == [routed[i] for i in same]
    # A method the routes do not take: FastAPI's 405 on the routed app; the fast path leaves it to FastAPI too.
    assert fast[-1][2] == routed[-1][2] == 405
    assert {status for _, _, status, *_ in fast} == {200, 400, 404, 405}
    with sessions() as db:
        kinds = {
            row.name: [ping.kind for ping in heartbeats.recent_pings(db, row)] for row in db.scalars(select(Heartbeat))
        }
    assert kinds["fast"] == kinds["routed"] == ["fail", "fail", "log", "success", "start", "success"]


def test_concurrent_pings_are_each_stored_once_and_answered_after_their_commit(
    ways: Ways, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    codes = [make(sessions, clock, f"job-{n}") for n in range(5)]

    async def storm() -> list[int]:
        transport = httpx.ASGITransport(app=ways.fast.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tocsin.test") as client:
            sent = [client.get(f"/ping/{codes[n % 5]}") for n in range(200)]
            return [answer.status_code for answer in await asyncio.gather(*sent)]

    assert asyncio.run(storm()) == [200] * 200
    with sessions() as db:
        # Every 200 is a stored ping, numbered without a gap or a repeat per heartbeat.
        assert db.scalar(select(func.sum(Heartbeat.n_pings))) == 200
        numbers: dict[int, list[int]] = {}
        for ping in db.scalars(select(HeartbeatPing).order_by(HeartbeatPing.n)):
            numbers.setdefault(ping.heartbeat_id, []).append(ping.n)
        assert all(ns == list(range(1, 41)) for ns in numbers.values()), numbers
        assert [row.status for row in db.scalars(select(Heartbeat))] == ["up"] * 5


def test_a_batch_that_fails_is_retried_ping_by_ping(
    client: TestClient, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    code = make(sessions, clock, "job")
    calls: list[int] = []
    real = heartbeats.record_pings

    def flaky(session: Session, now: Any, pings: Any) -> Any:
        calls.append(len(pings))
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real(session, now, pings)

    monkeypatch.setattr(heartbeats, "record_pings", flaky)
    assert client.get(f"/ping/{code}").status_code == 200
    assert calls == [1, 1]  # the batch, then its ping alone (record_ping → record_pings)
    with sessions() as db:
        assert db.scalar(select(Heartbeat.n_pings)) == 1
