"""Heartbeat rules: when a ping is due, what a ping does, when a run is too short or too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.domain.heartbeats import (
    Effect,
    PingKind,
    Schedule,
    State,
    Status,
    describe,
    expected_after,
    next_due,
    overdue,
    parse_exit_status,
    pause,
    receive,
    resume,
    run_time_problem,
    schedule_problem,
    status_at,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOURLY = Schedule(period=timedelta(hours=1), grace=timedelta(minutes=5))
NIGHTLY_BERLIN = Schedule(cron="30 2 * * *", time_zone="Europe/Berlin", grace=timedelta(minutes=10))
MORNINGS_BERLIN = Schedule(cron="0 9 * * *", time_zone="Europe/Berlin", grace=timedelta(minutes=10))


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ---- when the next ping is due ------------------------------------------------------


def test_a_period_heartbeat_is_due_a_period_after_its_last_ping_and_down_a_grace_later() -> None:
    state = State(Status.UP, last_ping_at=T0)
    assert expected_after(HOURLY, T0) == T0 + timedelta(hours=1)
    assert next_due(HOURLY, state) == T0 + timedelta(hours=1, minutes=5)


def test_a_new_or_paused_or_down_heartbeat_owes_nothing() -> None:
    assert next_due(HOURLY, State(Status.NEW)) is None
    assert next_due(HOURLY, State(Status.PAUSED, last_ping_at=T0)) is None
    assert next_due(HOURLY, State(Status.DOWN, last_ping_at=T0, alerting=True)) is None


def test_a_cron_heartbeat_is_due_at_the_next_time_of_its_expression_in_its_zone() -> None:
    # 02:30 in Berlin is 01:30 UTC in winter.
    assert expected_after(NIGHTLY_BERLIN, utc(2026, 11, 23, 1, 31)) == utc(2026, 11, 24, 1, 30)
    assert next_due(NIGHTLY_BERLIN, State(Status.UP, utc(2026, 11, 23, 1, 31))) == utc(2026, 11, 24, 1, 40)


def test_a_daily_cron_heartbeat_keeps_its_local_time_when_the_clocks_go_forward() -> None:
    # Berlin moves from +01:00 to +02:00 on 2026-03-29: 09:00 comes 23 hours after the day before's.
    last = utc(2026, 3, 28, 8, 0)  # 09:00 CET
    assert expected_after(MORNINGS_BERLIN, last) == utc(2026, 3, 29, 7, 0)  # 09:00 CEST


def test_a_job_at_a_time_the_clocks_skip_is_expected_right_after_the_change() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29; cron runs the job at 03:00 CEST, as croniter says.
    assert expected_after(NIGHTLY_BERLIN, utc(2026, 3, 28, 1, 31)) == utc(2026, 3, 29, 1, 0)


def test_a_job_at_a_time_the_clocks_repeat_is_expected_once() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25 (00:30 and 01:30 UTC); cron runs the job once.
    first = utc(2026, 10, 25, 0, 30)
    assert expected_after(NIGHTLY_BERLIN, utc(2026, 10, 24, 0, 31)) == first
    assert expected_after(NIGHTLY_BERLIN, first + timedelta(minutes=1)) == utc(2026, 10, 26, 1, 30)


def test_a_daily_cron_heartbeat_keeps_its_local_time_when_the_clocks_go_back() -> None:
    assert expected_after(MORNINGS_BERLIN, utc(2026, 10, 24, 7, 0)) == utc(2026, 10, 25, 8, 0)  # 25 hours


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)))
def test_a_daily_cron_time_always_comes_after_the_last_ping_and_within_a_day_and_an_hour(last: datetime) -> None:
    for schedule in (NIGHTLY_BERLIN, MORNINGS_BERLIN):
        expected = expected_after(schedule, last)
        assert last < expected <= last + timedelta(hours=25)


# ---- statuses ---------------------------------------------------------------------


def test_an_up_heartbeat_is_late_past_its_expected_time_and_down_after_the_grace() -> None:
    state = State(Status.UP, last_ping_at=T0)
    assert status_at(HOURLY, state, T0 + timedelta(minutes=59)) == Status.UP
    assert status_at(HOURLY, state, T0 + timedelta(hours=1)) == Status.LATE
    assert status_at(HOURLY, state, T0 + timedelta(hours=1, minutes=4, seconds=59)) == Status.LATE
    assert status_at(HOURLY, state, T0 + timedelta(hours=1, minutes=5)) == Status.DOWN
    assert status_at(HOURLY, State(Status.NEW), T0 + timedelta(days=30)) == Status.NEW


def test_a_first_success_brings_a_new_heartbeat_up_without_an_alert() -> None:
    moved = receive(HOURLY, State(Status.NEW), PingKind.SUCCESS, T0)
    assert moved.state == State(Status.UP, last_ping_at=T0)
    assert moved.effect == Effect.NONE


def test_a_failure_is_down_at_once_and_raises_with_the_reason() -> None:
    failed = receive(HOURLY, State(Status.UP, T0), PingKind.FAIL, T0 + timedelta(minutes=3), exit_status=2)
    assert failed.state == State(Status.DOWN, T0 + timedelta(minutes=3), alerting=True)
    assert (failed.effect, failed.reason) == (Effect.RAISE, "exit status 2")
    plain = receive(HOURLY, State(Status.UP, T0), PingKind.FAIL, T0)
    assert plain.reason == "the job reported a failure"


def test_a_success_after_an_alert_resolves_it() -> None:
    down = State(Status.DOWN, T0, alerting=True)
    back = receive(HOURLY, down, PingKind.SUCCESS, T0 + timedelta(hours=2))
    assert back.state == State(Status.UP, T0 + timedelta(hours=2))
    assert back.effect == Effect.RESOLVE
    # Up and not alerting: a success changes nothing worth an alert.
    assert receive(HOURLY, back.state, PingKind.SUCCESS, T0 + timedelta(hours=3)).effect == Effect.NONE


def test_a_log_ping_changes_nothing() -> None:
    state = State(Status.UP, T0)
    assert receive(HOURLY, state, PingKind.LOG, T0 + timedelta(hours=5)).state == state


def test_a_paused_heartbeat_ignores_every_ping() -> None:
    paused = pause(State(Status.UP, T0, started_at=T0))
    assert paused == State(Status.PAUSED, T0)
    for kind in PingKind:
        moved = receive(HOURLY, paused, kind, T0 + timedelta(hours=1))
        assert (moved.state, moved.effect) == (paused, Effect.NONE)
    assert resume(paused) == State(Status.NEW, T0)


def test_a_start_marks_a_run_and_the_run_may_last_the_grace_without_bounds() -> None:
    started = receive(HOURLY, State(Status.UP, T0), PingKind.START, T0 + timedelta(minutes=50))
    assert started.state.started_at == T0 + timedelta(minutes=50)
    assert started.state.status == Status.UP
    # Down at the earlier of: the schedule's down time, the run's limit.
    assert next_due(HOURLY, started.state) == T0 + timedelta(minutes=55)
    new_and_started = receive(HOURLY, State(Status.NEW), PingKind.START, T0)
    assert next_due(HOURLY, new_and_started.state) == T0 + timedelta(minutes=5)


def test_a_run_may_last_up_to_its_upper_bound() -> None:
    bounded = Schedule(period=timedelta(days=1), grace=timedelta(minutes=5), max_run=timedelta(hours=2))
    started = receive(bounded, State(Status.UP, T0), PingKind.START, T0 + timedelta(hours=1))
    assert next_due(bounded, started.state) == T0 + timedelta(hours=3)


def test_a_finish_ends_the_run_unless_it_belongs_to_another() -> None:
    running = State(Status.UP, T0, started_at=T0)
    assert receive(HOURLY, running, PingKind.SUCCESS, T0, ends_run=True).state.started_at is None
    assert receive(HOURLY, running, PingKind.SUCCESS, T0, ends_run=False).state.started_at == T0


# ---- run time -----------------------------------------------------------------------


BOUNDED = Schedule(
    period=timedelta(days=1), grace=timedelta(hours=1), min_run=timedelta(minutes=1), max_run=timedelta(hours=1)
)


@pytest.mark.parametrize(
    ("took", "problem"),
    [
        (timedelta(seconds=2.5), "the run took 2.5 s, shorter than the 1 min lower bound"),
        (timedelta(minutes=1), None),
        (timedelta(hours=1), None),
        (timedelta(hours=1, minutes=30), "the run took 1 h 30 min, longer than the 1 h upper bound"),
    ],
)
def test_a_run_outside_its_bounds_is_a_failure(took: timedelta, problem: str | None) -> None:
    assert run_time_problem(BOUNDED, took) == problem
    moved = receive(BOUNDED, State(Status.UP, T0, started_at=T0), PingKind.SUCCESS, T0 + took, duration=took)
    assert moved.effect == (Effect.RAISE if problem else Effect.NONE)
    assert moved.state.status == (Status.DOWN if problem else Status.UP)


def test_without_bounds_any_run_time_is_fine() -> None:
    assert run_time_problem(HOURLY, timedelta(days=3)) is None


# ---- going down for lack of a ping ----------------------------------------------------------


def test_a_missed_ping_goes_down_at_its_due_time_and_says_since_when() -> None:
    state = State(Status.UP, T0)
    assert overdue(HOURLY, state, T0 + timedelta(hours=1, minutes=4)) is None
    down = overdue(HOURLY, state, T0 + timedelta(hours=1, minutes=5))
    assert down is not None
    assert down.state == State(Status.DOWN, T0, alerting=True)
    assert (down.effect, down.reason) == (Effect.RAISE, "no ping since 2026-11-23 09:00 UTC")


def test_a_run_that_never_finishes_says_when_it_started() -> None:
    down = overdue(HOURLY, State(Status.UP, T0, started_at=T0 + timedelta(minutes=30)), T0 + timedelta(minutes=35))
    assert down is not None
    assert down.reason == "the run started at 2026-11-23 09:30 UTC has not finished after 5 min"


# ---- what a schedule must be ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        (Schedule(grace=timedelta(minutes=5)), "period"),
        (Schedule(grace=timedelta(minutes=5), period=timedelta(hours=1), cron="0 * * * *"), "period"),
        (Schedule(grace=timedelta(minutes=5), period=timedelta(seconds=30)), "period"),
        (Schedule(grace=timedelta(minutes=5), cron="61 * * * *"), "cron"),
        (Schedule(grace=timedelta(minutes=5), cron="0 0 * * * *"), "cron"),  # six fields: seconds
        (Schedule(grace=timedelta(minutes=5), cron="0 3 * * *", time_zone="Europe/Atlantis"), "time_zone"),
        (Schedule(grace=timedelta(seconds=10), period=timedelta(hours=1)), "grace"),
        (Schedule(grace=timedelta(minutes=5), period=timedelta(hours=1), max_run=timedelta(0)), "max_run"),
        (
            Schedule(
                grace=timedelta(minutes=5),
                period=timedelta(hours=1),
                min_run=timedelta(hours=1),
                max_run=timedelta(minutes=1),
            ),
            "min_run",
        ),
    ],
)
def test_a_schedule_that_cannot_work_names_its_field(schedule: Schedule, field: str) -> None:
    problem = schedule_problem(schedule)
    assert problem is not None
    assert problem[0] == field


def test_good_schedules_have_no_problem() -> None:
    assert schedule_problem(HOURLY) is None
    assert schedule_problem(NIGHTLY_BERLIN) is None
    assert schedule_problem(BOUNDED) is None


def test_exit_statuses_are_0_to_255() -> None:
    assert [parse_exit_status(t) for t in ("0", "1", "255", "256", "-1", "x", "٣")] == [
        0,
        1,
        255,
        None,
        None,
        None,
        None,
    ]


def test_durations_read_shortly() -> None:
    assert [describe(timedelta(seconds=s)) for s in (0.25, 42, 300, 330, 5400, 86400, 90000)] == [
        "0.25 s",
        "42 s",
        "5 min",
        "5 min 30 s",
        "1 h 30 min",
        "1 d",
        "1 d 1 h",
    ]
