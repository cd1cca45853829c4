"""The group-commit writer: many requests, one transaction; one bad request fails alone."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.api.ingest import IngestWriter
from tocsin.clock import FrozenClock
from tocsin.domain.alerts import Action, Signal
from tocsin.services import integrations
from tocsin.services.actor import Actor
from tocsin.services.alerts import Result
from tocsin.storage.models import Alert, TimelineEntry


def trigger(key: str) -> Signal:
    return Signal(action=Action.TRIGGER, dedup_key=key, summary=f"alert {key}", severity="critical")


def test_a_failing_request_does_not_fail_the_others_in_its_batch(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    with sessions() as db:
        created = integrations.create(db, Actor.system(), clock.now(), service_key="api", kind="native")
        db.commit()
        good = integrations.find_by_key(db, created.key)
    assert good is not None
    # An integration that does not exist in the database: its alerts break the foreign key.
    ghost = dataclasses.replace(good, id=999_999)
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
        created = integrations.create(db, Actor.system(), clock.now(), service_key="api", kind="native")
        db.commit()
        ref = integrations.find_by_key(db, created.key)
        assert ref is not None
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
        created = integrations.create(db, Actor.system(), clock.now(), service_key="api", kind="native")
        db.commit()
        ref = integrations.find_by_key(db, created.key)
        assert ref is not None
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
        created = integrations.create(
            db, Actor.system(), clock.now(), service_key="api", kind="native", settings={"auto_resolve": "resolve"}
        )
        db.commit()
        ref = integrations.find_by_key(db, created.key)
        assert ref is not None
        outcomes = alerts.ingest(
            db, clock.now(), ref, [trigger("a"), Signal(action=Action.RESOLVE, dedup_key="a"), trigger("b")]
        )
        db.commit()
        assert [o.result for o in outcomes] == [Result.CREATED, Result.RESOLVED, Result.CREATED]
        assert outcomes[0].incident == "INC-2026-11-23-001"
        assert outcomes[2].incident == "INC-2026-11-23-002"
