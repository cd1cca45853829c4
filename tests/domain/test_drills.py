"""The drill report, from an incident's milestones and timeline alone: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tocsin.domain.drills import Entry, Milestone, Report, State, Verdict, ended, report
from tocsin.domain.severity import P_SCHEME
from tocsin.domain.timeline import EntryKind

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
P1 = P_SCHEME.levels[1].policy  # ack 15 min, update every 30 min, resolve 4 h
P3 = P_SCHEME.levels[3].policy  # no update cadence


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def verdicts(result: Report) -> dict[Milestone, Verdict]:
    return {m.milestone: m.verdict for m in result.measures}


def test_it_measures_each_milestone_from_the_first_signal_against_the_policy() -> None:
    entries = [
        Entry(EntryKind.DECLARED, at(0)),
        Entry(EntryKind.ROLE, at(20), {"role": "commander", "to": "bob@example.com"}),
        Entry(EntryKind.ROLE, at(25), {"role": "comms", "to": "alice@example.com"}),
        Entry(EntryKind.ROLE, at(30), {"role": "commander", "to": "alice@example.com"}),  # a hand-off
        Entry(EntryKind.NOTE, at(21)),
        Entry(EntryKind.UPDATE, at(28), {"public": False}),
        Entry(EntryKind.UPDATE, at(50)),
    ]
    result = report(
        started_at=START, declared_at=at(1), acknowledged_at=at(9), mitigated_at=at(300),
        ended_at=at(320), entries=entries, policy=P1, now=at(400),
    )  # fmt: skip
    measured = {m.milestone: (m.took, m.target, m.verdict) for m in result.measures}
    assert measured == {
        Milestone.ACKNOWLEDGE: (timedelta(minutes=9), timedelta(minutes=15), Verdict.MET),
        Milestone.DECLARE: (timedelta(minutes=1), timedelta(minutes=15), Verdict.MET),
        Milestone.COMMANDER: (timedelta(minutes=20), timedelta(minutes=15), Verdict.MISSED),
        Milestone.FIRST_UPDATE: (timedelta(minutes=28), timedelta(minutes=30), Verdict.MET),
        Milestone.MITIGATE: (timedelta(minutes=300), timedelta(hours=4), Verdict.MISSED),
    }
    assert (result.met, result.missed) == (3, 2)
    assert result.roles == {"commander": timedelta(minutes=20), "comms": timedelta(minutes=25)}


def test_a_milestone_not_reached_is_pending_until_its_target_passes_then_missed() -> None:
    def running(now: datetime) -> dict[Milestone, Verdict]:
        result = report(
            started_at=START, declared_at=START, acknowledged_at=None, mitigated_at=None,
            ended_at=None, entries=[], policy=P1, now=now,
        )  # fmt: skip
        return verdicts(result)

    assert running(at(10))[Milestone.ACKNOWLEDGE] == Verdict.PENDING
    assert running(at(16))[Milestone.ACKNOWLEDGE] == Verdict.MISSED
    assert running(at(16))[Milestone.FIRST_UPDATE] == Verdict.PENDING
    assert running(at(16))[Milestone.DECLARE] == Verdict.MET


def test_a_drill_that_ended_early_leaves_what_it_did_not_reach_not_reached() -> None:
    result = report(
        started_at=START, declared_at=START, acknowledged_at=None, mitigated_at=None,
        ended_at=at(5), entries=[], policy=P3, now=at(600),
    )  # fmt: skip
    found = verdicts(result)
    assert found[Milestone.ACKNOWLEDGE] == Verdict.NOT_REACHED
    assert found[Milestone.FIRST_UPDATE] == Verdict.NOT_REACHED  # P3 has no cadence: nothing to miss


def test_a_milestone_without_a_target_is_measured_and_not_judged() -> None:
    result = report(
        started_at=START, declared_at=START, acknowledged_at=at(1), mitigated_at=at(2),
        ended_at=at(3), entries=[Entry(EntryKind.UPDATE, at(2))], policy=P3, now=at(3),
    )  # fmt: skip
    [update] = [m for m in result.measures if m.milestone == Milestone.FIRST_UPDATE]
    assert (update.took, update.target, update.verdict) == (timedelta(minutes=2), None, Verdict.NO_TARGET)


def test_a_drill_ends_with_its_incident() -> None:
    assert ended("resolved") == State.FINISHED
    assert ended("canceled") == State.CANCELED
    assert ended("monitoring") is None
