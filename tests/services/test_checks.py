"""services.checks on both databases: claims, batches of results, rollups, edits."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.clock import FrozenClock
from tocsin.domain import checks as domain
from tocsin.errors import ValidationFailed
from tocsin.services import checks
from tocsin.services.actor import Actor
from tocsin.storage.models import Check, CheckResult, CheckRollup

SYSTEM = Actor.system("tests")
TCP = checks.Definition(kind="tcp", spec={"host": "db.internal", "port": 5432})


def make(session: Session, clock: FrozenClock, name: str, definition: checks.Definition = TCP) -> Check:
    row = checks.create(session, SYSTEM, clock.now(), service_key="api", name=name, definition=definition)
    session.commit()
    return row


def result(row: Check, slot: datetime | None, clock: FrozenClock, up: bool = True) -> checks.RunResult:
    verdict = domain.Verdict(up, "" if up else "refused")
    return checks.RunResult(row.id, slot, clock.now(), verdict, 12.0 if up else None)


@pytest.mark.usefixtures("personas")
def test_a_bad_spec_is_refused_naming_the_field_inside_the_spec(session: Session, clock: FrozenClock) -> None:
    bad = checks.Definition(kind="http", spec={"url": "http://x", "expect_status": "ok"})
    with pytest.raises(ValidationFailed) as raised:
        checks.create(session, SYSTEM, clock.now(), service_key="api", name="x", definition=bad)
    assert raised.value.field == "spec.expect_status"


@pytest.mark.usefixtures("personas")
def test_a_batch_of_results_is_one_write_and_rollups_add_up_within_the_hour(
    session: Session, clock: FrozenClock
) -> None:
    rows = [make(session, clock, f"c{i}") for i in range(50)]
    clock.advance(timedelta(seconds=61))
    claimed = checks.claim_due(session, clock.now(), timedelta(0), "one")
    session.commit()
    assert sorted(c.check_id for c in claimed) == sorted(r.id for r in rows)
    by_id = {c.check_id: c for c in claimed}
    recorded = checks.record_results(
        session, clock.now(), [result(r, by_id[r.id].slot, clock, up=i % 5 != 0) for i, r in enumerate(rows)], "one"
    )
    session.commit()
    assert recorded.applied == 50
    clock.advance(timedelta(seconds=60))
    again = {c.check_id: c.slot for c in checks.claim_due(session, clock.now(), timedelta(0), "one")}
    checks.record_results(session, clock.now(), [result(r, again[r.id], clock) for r in rows], "one")
    session.commit()

    assert session.scalar(select(func.count()).select_from(CheckResult)) == 100
    rollups = list(session.scalars(select(CheckRollup)))
    assert len(rollups) == 50  # one row per check and hour, added to
    assert (sum(r.count for r in rollups), sum(r.up for r in rollups)) == (100, 90)
    assert all(sum(r.histogram) == r.up for r in rollups)


@pytest.mark.usefixtures("personas")
def test_a_result_for_a_slot_another_process_has_taken_over_is_dropped(session: Session, clock: FrozenClock) -> None:
    row = make(session, clock, "db")
    clock.advance(timedelta(seconds=61))
    [mine] = checks.claim_due(session, clock.now(), timedelta(0), "slow")
    session.commit()
    clock.advance(timedelta(seconds=45))  # past its timeout and lease: the claim lapses
    [theirs] = checks.claim_due(session, clock.now(), timedelta(0), "fast")
    session.commit()
    assert theirs.slot == mine.slot
    assert checks.record_results(session, clock.now(), [result(row, theirs.slot, clock)], "fast").applied == 1
    assert checks.record_results(session, clock.now(), [result(row, mine.slot, clock)], "slow").applied == 0
    session.commit()
    assert session.scalar(select(func.count()).select_from(CheckResult)) == 1


@pytest.mark.usefixtures("personas")
def test_an_edit_to_the_interval_moves_the_next_slot_and_keeps_the_status(session: Session, clock: FrozenClock) -> None:
    row = make(session, clock, "db")
    checks.record_results(session, clock.now(), [result(row, None, clock)], None)
    session.commit()
    longer = checks.Definition(kind="tcp", spec={"host": "db.internal", "port": 5432}, interval_s=600, timeout_s=10)
    edited = checks.update(session, SYSTEM, clock.now(), "db", longer)
    session.commit()
    assert edited.status == "up"
    assert edited.next_run_at == domain.next_slot("db", timedelta(seconds=600), clock.now())
