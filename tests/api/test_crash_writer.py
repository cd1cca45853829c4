"""The crash writer: many envelopes, one transaction; one bad report fails alone; a replay inside
one batch is counted once."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.api.crash_writer import CrashWriter
from tocsin.clock import FrozenClock
from tocsin.domain.crashes import Crash, ExceptionInfo, Frame
from tocsin.services import crashes, integrations
from tocsin.services.actor import Actor
from tocsin.services.integrations import IntegrationRef
from tocsin.storage.models import CrashEvent, CrashGroup


def project(sessions: sessionmaker[Session], clock: FrozenClock) -> IntegrationRef:
    with sessions() as db:
        created = integrations.create(db, Actor.system(), clock.now(), service_key="api", kind="sentry")
        db.commit()
        ref = integrations.find_by_key(db, created.key)
    assert ref is not None
    return ref


def crash(type_: str, event_id: str | None = None) -> Crash:
    frame = Frame(function="handle", module="app.views", in_app=True)
    return Crash(event_id=event_id or uuid.uuid4().hex, exceptions=(ExceptionInfo(type=type_, frames=(frame,)),))


def run(writer: CrashWriter, reports: list[crashes.Report]) -> list[Any]:
    async def scenario() -> list[Any]:
        writer.start()
        try:
            return list(await asyncio.gather(*(writer.submit(r) for r in reports), return_exceptions=True))
        finally:
            writer.stop()

    return asyncio.run(scenario())


def test_a_failing_report_does_not_fail_the_others_in_its_batch(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    good = project(sessions, clock)
    # A project whose service is gone (a cache older than the database): its group cannot be made.
    ghost = dataclasses.replace(good, id=999_999, service_id=999_999, service_key="gone")
    results = run(
        CrashWriter(sessions, clock),
        [
            crashes.Report(good, [crash("A")]),
            crashes.Report(ghost, [crash("B")]),
            crashes.Report(good, [crash("C")]),
        ],
    )
    assert isinstance(results[1], Exception)
    assert [len(r.stored) for r in (results[0], results[2])] == [1, 1]
    with sessions() as db:
        assert sorted(db.scalars(select(CrashGroup.type))) == ["A", "C"]


def test_many_reports_share_a_transaction_and_a_replay_among_them_counts_once(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    ref = project(sessions, clock)
    same = uuid.uuid4().hex
    reports = [crashes.Report(ref, [crash(f"E{n % 3}")]) for n in range(30)]
    reports += [crashes.Report(ref, [crash("E0", same)]), crashes.Report(ref, [crash("E0", same)])]
    results = run(CrashWriter(sessions, clock), reports)
    assert sum(len(r.stored) for r in results) == 31
    assert sum(len(r.duplicates) for r in results) == 1
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(CrashEvent)) == 31
        counts = {kind: n for kind, n in db.execute(select(CrashGroup.type, CrashGroup.count))}
        assert counts == {"E0": 11, "E1": 10, "E2": 10}
        # Every group keeps the payload of its first event and its newest five, no more.
        kept = db.scalar(select(func.count()).select_from(CrashEvent).where(CrashEvent.payload.is_not(None)))
        assert kept == 3 * 6
