"""The group-commit writer: many requests, one transaction; one bad request fails alone."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.api.ingest import IngestWriter
from tocsin.clock import FrozenClock
from tocsin.domain.alerts import Action, Signal
from tocsin.services import integrations
from tocsin.services.actor import Actor
from tocsin.services.alerts import Result
from tocsin.services.integrations import IntegrationRef
from tocsin.storage.models import Alert, Incident, TimelineEntry


def trigger(key: str) -> Signal:
    return Signal(action=Action.TRIGGER, dedup_key=key, summary=f"alert {key}", severity="critical")


def native(db: Session, clock: FrozenClock, **settings: object) -> IntegrationRef:
    """A native integration on service api, committed, as the writer sees it."""
    created = integrations.create(
        db, Actor.system(), clock.now(), service_key="api", kind="native", settings=settings or None
    )
    db.commit()
    ref = integrations.find_by_key(db, created.key)
    assert ref is not None
    return ref


def test_a_failing_request_does_not_fail_the_others_in_its_batch(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    with sessions() as db:
        good = native(db, clock)
    # An integration whose service is not in the database (a cache older than the
    # database it reads): declaring the incident its alert opens fails.
    ghost = dataclasses.replace(good, id=999_999, service_id=999_999, service_key="gone")
    writer = IngestWriter(sessions, clock)

    async def scenario() -> list[Any]:
        writer.start()
        try:
            return list(
                await asyncio.gather(
                    writer.submit(good, [trigger("a")]),
                    writer.submit(ghost, [trigger("b")]),
                    writer.submit(good, [trigger("c")]),
                    return_exceptions=True,
                )
            )
        finally:
            writer.stop()

    first, failed, third = asyncio.run(scenario())
    assert isinstance(failed, Exception)
    assert [o.result for o in first] == [Result.CREATED]
    assert [o.result for o in third] == [Result.CREATED]
    with sessions() as db:
        assert sorted(db.scalars(select(Alert.dedup_key))) == ["a", "c"]


def test_a_storm_in_one_batch_joins_one_incident_with_one_timeline_entry(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    from tocsin.services import alerts

    with sessions() as db:
        ref = native(db, clock)
        outcomes = alerts.ingest(db, clock.now(), ref, [trigger(str(n)) for n in range(500)])
        db.commit()
        assert {o.incident for o in outcomes} == {"INC-2026-11-23-001"}
        assert db.scalar(select(func.count()).select_from(Alert)) == 500
        entries = db.scalars(select(TimelineEntry).where(TimelineEntry.kind == "alert")).all()
        assert len(entries) == 1
        assert entries[0].summary == "500 alerts attached, first: alert 0"
        assert len(entries[0].data["alerts"]) == 500
        # The same storm again is 500 cheap repeats: no new rows, counts go up.
        again = alerts.ingest(db, clock.now(), ref, [trigger(str(n)) for n in range(500)])
        db.commit()
        assert {o.result for o in again} == {Result.REPEATED}
        assert db.scalar(select(func.count()).select_from(Alert)) == 500
        assert db.scalar(select(func.min(Alert.count))) == 2


@pytest.mark.parametrize("order", ["trigger-then-resolve", "resolve-then-trigger"])
def test_a_trigger_and_a_resolve_in_one_batch_apply_in_order(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, order: str
) -> None:
    from tocsin.services import alerts

    with sessions() as db:
        ref = native(db, clock)
        resolve = Signal(action=Action.RESOLVE, dedup_key="x")
        signals = [trigger("x"), resolve] if order == "trigger-then-resolve" else [resolve, trigger("x")]
        outcomes = alerts.ingest(db, clock.now(), ref, signals)
        db.commit()
        if order == "trigger-then-resolve":
            assert [o.result for o in outcomes] == [Result.CREATED, Result.RESOLVED]
            assert db.scalars(select(Alert.status)).one() == "resolved"
        else:
            assert [o.result for o in outcomes] == [Result.IGNORED, Result.CREATED]
            assert db.scalars(select(Alert.status)).one() == "firing"


def test_a_trigger_after_its_incident_resolved_in_the_same_batch_opens_a_new_one(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    from tocsin.services import alerts

    with sessions() as db:
        ref = native(db, clock, auto_resolve="resolve")
        outcomes = alerts.ingest(
            db, clock.now(), ref, [trigger("a"), Signal(action=Action.RESOLVE, dedup_key="a"), trigger("b")]
        )
        db.commit()
        assert [o.result for o in outcomes] == [Result.CREATED, Result.RESOLVED, Result.CREATED]
        assert outcomes[0].incident == "INC-2026-11-23-001"
        assert outcomes[2].incident == "INC-2026-11-23-002"


def test_the_next_batch_joins_the_incident_the_last_one_did_while_it_qualifies(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    """The writer's hints skip the search for the incident, never change its answer."""
    from tocsin.services import alerts, incidents

    hints: dict[tuple[int, str], tuple[int, datetime]] = {}
    with sessions() as db:
        ref = native(db, clock, group_window_s=300)

        def batch(key: str) -> alerts.Outcome:
            outcome = alerts.ingest_batch(db, clock.now(), [(ref, [trigger(key)])], hints=hints)[0][0]
            db.commit()
            return outcome

        first = batch("a")
        clock.advance(timedelta(minutes=4))
        assert batch("b").incident == first.incident  # within the window: the hint holds
        assert hints  # and it was the hint that was kept
        clock.advance(timedelta(minutes=6))
        later = batch("c")  # past the window since "b": a new incident
        assert later.incident != first.incident
        # Resolved by a human: the hint no longer qualifies.
        assert later.incident is not None
        incident = incidents.get(db, later.incident)
        incidents.change_status(db, Actor.system(), clock.now(), incident, "resolved", "fixed")
        db.commit()
        assert batch("d").incident not in (later.incident, first.incident)


def test_a_repeat_answers_with_its_incident(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    from tocsin.services import alerts

    with sessions() as db:
        ref = native(db, clock)
        first = alerts.ingest(db, clock.now(), ref, [trigger("a")])
        db.commit()
        # In a later batch, and twice within one batch (the second folds into the first).
        again = alerts.ingest(db, clock.now(), ref, [trigger("a"), trigger("b"), trigger("b")])
        db.commit()
        assert [o.result for o in again] == [Result.REPEATED, Result.CREATED, Result.REPEATED]
        assert {o.incident for o in first + again} == {"INC-2026-11-23-001"}
        assert again[1].alert_id == again[2].alert_id is not None
        counts = {key: count for key, count in db.execute(select(Alert.dedup_key, Alert.count))}
        assert counts == {"a": 2, "b": 2}


def test_the_configuration_snapshot_is_kept_until_invalidated_or_the_clock_leaves_it(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    """The writer keeps one; the API drops it on every committed change (tests/api test that end to end)."""
    from tocsin.services import alerts, ingest_config, routing

    cache = ingest_config.SnapshotCache()
    with sessions() as db:
        ref = native(db, clock)
        before = cache.get(db, clock.now())
        routing.add_rule(db, Actor.system(), clock.now(), service_key="api", matchers=['alertname="Noise"'], drop=True)
        db.commit()
        assert cache.get(db, clock.now()) is before  # kept: nobody said it changed
        cache.invalidate()
        config = cache.get(db, clock.now())
        assert config is not before
        noise = Signal(action=Action.TRIGGER, dedup_key="n", summary="noise", labels={"alertname": "Noise"})
        assert alerts.ingest_batch(db, clock.now(), [(ref, [noise])], config)[0][0].result == Result.DROPPED
        # The snapshot ends with its span of the clock, whatever the real time.
        clock.advance(ingest_config.TTL)
        assert cache.get(db, clock.now()) is not config


def test_a_window_or_rule_made_through_the_api_applies_to_the_very_next_alert(
    client: TestClient, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    """The writer's configuration snapshot is dropped as an API change commits."""
    with sessions() as db:
        key = integrations.create(db, Actor.system(), clock.now(), service_key="api", kind="native").key
        db.commit()

    def send(dedup: str, **labels: str) -> dict[str, Any]:
        body = {"action": "trigger", "dedup_key": dedup, "summary": dedup, "labels": labels}
        answer: dict[str, Any] = client.post(f"/api/v1/events/{key}", json=body).json()
        return answer

    assert send("first")["held_by"] is None  # the writer now holds a snapshot
    bob = personas.bob.headers
    window = {
        "name": "DB upgrade",
        "starts_at": clock.now().isoformat(),
        "ends_at": (clock.now() + timedelta(hours=1)).isoformat(),
        "service": "api",
    }
    made = client.post("/api/v1/maintenance-windows", json=window, headers=bob)
    assert made.status_code == 201, made.text
    assert send("second")["held_by"] == "DB upgrade"
    rule = {"matchers": ['env="staging"'], "drop": True}
    assert client.post("/api/v1/services/api/rules", json=rule, headers=bob).status_code == 201
    assert send("third", env="staging")["result"] == "dropped"


def test_a_commit_that_opened_an_incident_wakes_the_engine(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    """The first page for an alert goes out at once, not at the engine's next interval."""
    with sessions() as db:
        ref = native(db, clock)
    woken: list[int] = []
    writer = IngestWriter(sessions, clock)
    writer.on_opened = lambda: woken.append(1)

    async def send(*keys: str) -> list[Any]:
        writer.start()
        try:
            return await writer.submit(ref, [trigger(key) for key in keys])
        finally:
            writer.stop()

    first = asyncio.run(send("a", "b"))
    assert [(o.result, o.opened) for o in first] == [(Result.CREATED, True), (Result.CREATED, False)]
    assert woken == [1]
    again = asyncio.run(send("a", "c"))  # a repeat and an alert joining the open incident
    assert [(o.result, o.opened) for o in again] == [(Result.REPEATED, False), (Result.CREATED, False)]
    assert woken == [1]


def test_the_writer_refreshes_the_planners_statistics_each_time_its_alerts_grew_tenfold(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, backend: str, monkeypatch: Any
) -> None:
    """A storm on a new install must not run on plans made for an empty table."""
    if backend != "postgresql":
        pytest.skip("SQLite's planner keeps no statistics unless asked, and needs none here")
    monkeypatch.setattr("tocsin.api.ingest.STATISTICS_AFTER", 3)
    with sessions() as db:
        ref = native(db, clock)
    writer = IngestWriter(sessions, clock)

    def rows_the_planner_knows() -> float:
        with sessions() as db:
            return float(db.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'alerts'")) or 0)

    async def send(*keys: str) -> None:
        writer.start()
        try:
            await writer.submit(ref, [trigger(key) for key in keys])
        finally:
            writer.stop()

    never = rows_the_planner_knows()  # -1: never analyzed
    asyncio.run(send("a", "b"))
    assert rows_the_planner_knows() == never
    asyncio.run(send("c", "a"))  # the third new alert (and a repeat, which does not count)
    assert rows_the_planner_knows() == 3
    asyncio.run(send(*(f"k{n}" for n in range(20))))  # 23: not yet ten times 3
    assert rows_the_planner_knows() == 3
    asyncio.run(send(*(f"m{n}" for n in range(7))))  # 30
    assert rows_the_planner_knows() == 30


def test_alerts_attaching_mark_their_incident_changed_at_most_once_a_second(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    from tocsin.services import alerts

    with sessions() as db:
        ref = native(db, clock, group_window_s=300)
        declared_at = clock.now()
        alerts.ingest(db, clock.now(), ref, [trigger("first")])
        db.commit()

        def updated_at() -> datetime:
            db.expire_all()
            return db.scalars(select(Incident.updated_at)).one()

        clock.advance(timedelta(milliseconds=500))
        alerts.ingest(db, clock.now(), ref, [trigger("second")])
        db.commit()
        assert updated_at() == declared_at
        clock.advance(timedelta(milliseconds=600))  # 1.1 s after the last mark
        alerts.ingest(db, clock.now(), ref, [trigger("third")])
        db.commit()
        assert updated_at() == clock.now()
        attached = db.scalars(select(TimelineEntry.summary).where(TimelineEntry.kind == "alert")).all()
        assert attached == [f"Alert attached: alert {key}" for key in ("first", "second", "third")]


def test_a_writer_does_not_ask_to_mark_an_incident_it_marked_less_than_a_second_ago(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, engine: Engine
) -> None:
    from tocsin.services import alerts

    marks: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE INCIDENTS SET UPDATED_AT"):
            marks.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with sessions() as db:
            ref = native(db, clock, group_window_s=300)
            hints: dict[tuple[int, str], tuple[int, datetime]] = {}
            touched: dict[int, datetime] = {}

            def send(key: str) -> None:
                alerts.ingest_batch(db, clock.now(), [(ref, [trigger(key)])], hints=hints, touched=touched)
                db.commit()

            send("first")  # declares the incident (updated_at = now): nothing to mark
            clock.advance(timedelta(seconds=2))
            send("second")  # marked, and remembered
            assert list(touched.values()) == [clock.now()]
            asked = len(marks)
            clock.advance(timedelta(milliseconds=900))
            send("third")  # within the second: not even asked
            assert len(marks) == asked
            clock.advance(timedelta(milliseconds=200))
            send("fourth")  # 1.1 s after the mark: asked, and marked
            assert len(marks) == asked + 1
            assert db.scalars(select(Incident.updated_at)).one() == clock.now()
    finally:
        event.remove(engine, "before_cursor_execute", count)
