from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.domain.escalation import (
    DEFAULT_MATRIX,
    Level,
    Plan,
    Policy,
    PolicyError,
    Step,
    Target,
    TargetKind,
    Variant,
    VariantKind,
    check_severities,
    escalate_now,
    escalate_past,
    follow,
    next_steps,
    plan,
    reescalate,
    resume,
    upcoming,
)
from tocsin.domain.severity import P_SCHEME

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

ON_CALL = Target(TargetKind.SCHEDULE, "primary")
MANAGER = Target(TargetKind.USER, "bob")
CTO = Target(TargetKind.USER, "charlie")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def runbook(repeat: int = 2, variants: dict[str, Variant] | None = None) -> Policy:
    """The runbook's policy: on-call, then the engineering manager, then the CTO, 5 minutes apart."""
    return Policy(
        name="web",
        levels=(Level((ON_CALL,), minutes(5)), Level((MANAGER,), minutes(5)), Level((CTO,), minutes(5))),
        repeat=repeat,
        variants=variants or {},
    )


def timetable(p: Plan) -> list[tuple[int, int, timedelta]]:
    return [(step.round, step.level, step.due_at - p.started_at) for step in p.steps]


# --- the timetable ---------------------------------------------------------------------------------------------


def test_the_runbook_policy_repeated_twice_pages_nine_times_five_minutes_apart() -> None:
    p = plan(runbook(repeat=2), "P2", START)
    assert [(s.round, s.level, s.due_at, s.targets) for s in p.steps] == [
        (0, 0, START, (ON_CALL,)),
        (0, 1, START + minutes(5), (MANAGER,)),
        (0, 2, START + minutes(10), (CTO,)),
        (1, 0, START + minutes(15), (ON_CALL,)),
        (1, 1, START + minutes(20), (MANAGER,)),
        (1, 2, START + minutes(25), (CTO,)),
        (2, 0, START + minutes(30), (ON_CALL,)),
        (2, 1, START + minutes(35), (MANAGER,)),
        (2, 2, START + minutes(40), (CTO,)),
    ]
    assert p.reason is None
    assert (p.policy, p.severity, p.started_at) == ("web", "P2", START)


def test_repeat_zero_runs_the_levels_once() -> None:
    once = [(0, 0, minutes(0)), (0, 1, minutes(5)), (0, 2, minutes(10))]
    assert timetable(plan(runbook(repeat=0), "P2", START)) == once


def test_each_level_keeps_its_own_delay_and_the_next_round_waits_for_the_last_levels_delay() -> None:
    policy = Policy(
        "db",
        (Level((ON_CALL,), minutes(5)), Level((MANAGER,), minutes(10)), Level((CTO,), minutes(30))),
        repeat=1,
    )
    assert timetable(plan(policy, "P2", START)) == [
        (0, 0, minutes(0)),
        (0, 1, minutes(5)),
        (0, 2, minutes(15)),
        (1, 0, minutes(45)),
        (1, 1, minutes(50)),
        (1, 2, minutes(60)),
    ]


def test_a_level_pages_all_of_its_targets_together() -> None:
    team = Target(TargetKind.TEAM, "platform")
    policy = Policy("web", (Level((ON_CALL, team), minutes(5)),))
    assert plan(policy, "P1", START).steps == (Step(0, 0, START, (ON_CALL, team)),)


def test_delays_are_real_time_even_when_the_incident_starts_in_a_dst_zone() -> None:
    # 01:55 in Berlin on 2027-03-28; the clocks jump from 02:00 to 03:00 in between.
    berlin = datetime(2027, 3, 28, 1, 55, tzinfo=ZoneInfo("Europe/Berlin"))
    p = plan(runbook(repeat=0), "P2", berlin)
    assert [s.due_at for s in p.steps] == [
        datetime(2027, 3, 28, 0, 55, tzinfo=UTC),
        datetime(2027, 3, 28, 1, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 1, 5, tzinfo=UTC),
    ]
    assert all(s.due_at.tzinfo is UTC for s in p.steps)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="started_at: needs a timezone-aware datetime"):
        plan(runbook(), "P2", datetime(2026, 11, 23, 9, 0))


# --- the escalation matrix -------------------------------------------------------------------------------------


def test_p0_pages_every_level_at_once_and_again_each_round_length() -> None:
    p = plan(runbook(repeat=1, variants=dict(DEFAULT_MATRIX)), "P0", START)
    assert timetable(p) == [
        (0, 0, minutes(0)),
        (0, 1, minutes(0)),
        (0, 2, minutes(0)),
        (1, 0, minutes(15)),
        (1, 1, minutes(15)),
        (1, 2, minutes(15)),
    ]


def test_p1_moves_up_every_fifteen_minutes_and_p2_every_hour() -> None:
    policy = runbook(repeat=1, variants=dict(DEFAULT_MATRIX))
    assert [step.due_at - START for step in plan(policy, "P1", START).steps] == [minutes(15 * i) for i in range(6)]
    assert [step.due_at - START for step in plan(policy, "P2", START).steps] == [minutes(60 * i) for i in range(6)]


def test_p3_pages_no_one_and_says_why() -> None:
    p = plan(runbook(variants=dict(DEFAULT_MATRIX)), "P3", START)
    assert p.steps == ()
    assert p.reason == "P3 is record-only in escalation policy 'web': nobody is paged"
    assert next_steps(p, START + minutes(60), None, None) == []
    assert upcoming(p, START, None, None) is None


def test_a_severity_without_a_variant_follows_the_policy_as_written() -> None:
    policy = runbook(repeat=0, variants={"P0": Variant.all_at_once()})
    assert timetable(plan(policy, "SEV2", START)) == [(0, 0, minutes(0)), (0, 1, minutes(5)), (0, 2, minutes(10))]


def test_the_default_matrix_names_levels_of_the_p_scheme() -> None:
    check_severities(runbook(variants=dict(DEFAULT_MATRIX)), P_SCHEME)
    assert {name: v.kind for name, v in DEFAULT_MATRIX.items()} == {
        "P0": VariantKind.ALL_AT_ONCE,
        "P1": VariantKind.STEP_DELAY,
        "P2": VariantKind.STEP_DELAY,
        "P3": VariantKind.RECORD_ONLY,
    }


# --- what is due -----------------------------------------------------------------------------------------------


def test_it_escalates_to_the_manager_after_five_minutes() -> None:
    p = plan(runbook(), "P2", START)
    assert [s.targets for s in next_steps(p, START, None, None)] == [(ON_CALL,)]
    assert [s.targets for s in next_steps(p, START + timedelta(minutes=5, seconds=-1), None, None)] == [(ON_CALL,)]
    assert [s.targets for s in next_steps(p, START + minutes(5), None, None)] == [(ON_CALL,), (MANAGER,)]
    assert upcoming(p, START + minutes(5), None, None) == p.steps[2]


def test_an_ack_at_the_very_instant_a_step_falls_due_cancels_that_step() -> None:
    p = plan(runbook(), "P2", START)
    acked = START + minutes(5)  # the manager's step is due now
    assert next_steps(p, acked, acked, None) == []
    assert upcoming(p, acked, acked, None) is None


def test_an_ack_stops_even_a_step_that_was_due_earlier_but_has_not_gone_out() -> None:
    p = plan(runbook(), "P2", START)
    assert next_steps(p, START + minutes(12), START + minutes(11), None) == []


def test_an_ack_still_in_the_future_of_now_does_not_rewrite_what_was_due_then() -> None:
    p = plan(runbook(), "P2", START)
    assert next_steps(p, START + minutes(4), START + minutes(5), None) == [p.steps[0]]


def test_resolution_stops_the_escalation_like_an_ack() -> None:
    p = plan(runbook(), "P2", START)
    assert next_steps(p, START + minutes(10), None, START + minutes(10)) == []
    assert upcoming(p, START + minutes(10), None, START + minutes(7)) is None


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    delays = draw(st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=4))
    delays[0] = max(delays[0], 1)  # a repeating policy needs a round length
    levels = tuple(Level((Target(TargetKind.USER, f"u{i}"),), minutes(d)) for i, d in enumerate(delays))
    variants = draw(st.sampled_from([{}, dict(DEFAULT_MATRIX)]))
    return Policy("p", levels, repeat=draw(st.integers(min_value=0, max_value=3)), variants=variants)


offsets = st.integers(min_value=-600, max_value=6 * 3600).map(lambda s: timedelta(seconds=s))


@given(policies(), st.sampled_from(["P0", "P1", "P2", "P3", "SEV1"]), offsets, offsets)
def test_after_an_ack_at_any_instant_nothing_is_ever_due(
    policy: Policy, severity: str, ack_offset: timedelta, later: timedelta
) -> None:
    p = plan(policy, severity, START)
    acked = START + ack_offset
    now = acked + abs(later)
    assert next_steps(p, now, acked, None) == []
    assert upcoming(p, now, acked, None) is None
    # Before the ack the timetable runs as planned, and everything it offers is due before the ack.
    before = acked - timedelta(seconds=1)
    due = next_steps(p, before, acked, None)
    assert due == [s for s in p.steps if s.due_at <= before]
    assert all(s.due_at < acked for s in due)


@given(policies(), st.sampled_from(["P0", "P1", "P2"]))
def test_the_timetable_is_in_due_order_and_covers_every_level_every_round(policy: Policy, severity: str) -> None:
    p = plan(policy, severity, START)
    assert [s.due_at for s in p.steps] == sorted(s.due_at for s in p.steps)
    expected = [(r, i) for r in range(policy.repeat + 1) for i in range(len(policy.levels))]
    assert [(s.round, s.level) for s in p.steps] == expected


# --- re-escalation and a missed acknowledge target -------------------------------------------------------------


def test_a_released_ack_restarts_from_the_first_level_with_every_round() -> None:
    released = START + minutes(27)
    p = reescalate(runbook(repeat=2), "P2", released)
    assert p.started_at == released
    assert next_steps(p, released, None, None) == [Step(0, 0, released, (ON_CALL,))]
    assert len(p.steps) == 9
    assert p.steps[-1].due_at == released + minutes(40)


def test_a_missed_ack_target_makes_the_next_level_due_at_once_and_keeps_the_spacing_after_it() -> None:
    p = plan(runbook(repeat=0), "P1", START)  # no variant here: 5-minute steps
    missed = START + minutes(2)
    moved = escalate_now(p, missed)
    assert [s.due_at for s in moved.steps] == [START, missed, missed + minutes(5)]
    assert [s.targets for s in next_steps(moved, missed, None, None)] == [(ON_CALL,), (MANAGER,)]
    # Step identity (started_at, round, level) is unchanged, so the engine does not page level 0 twice.
    assert moved.started_at == p.started_at
    assert [(s.round, s.level) for s in moved.steps] == [(s.round, s.level) for s in p.steps]


def test_escalating_now_twice_at_the_same_instant_moves_nothing_more() -> None:
    p = plan(runbook(), "P2", START)
    once = escalate_now(p, START + minutes(1))
    assert escalate_now(once, START + minutes(1)) == once


def test_a_missed_ack_target_at_the_instant_the_next_level_falls_due_moves_nothing() -> None:
    p = plan(runbook(), "P2", START)
    assert escalate_now(p, START + minutes(5)) == p


def test_a_level_held_by_quiet_hours_passes_the_page_to_the_next_level_at_once() -> None:
    p = plan(runbook(repeat=0), "P2", START)
    held = START + minutes(5)  # the manager's step went out and every target was held
    moved = escalate_past(p, p.steps[1], held)
    assert [s.due_at for s in moved.steps] == [START, held, held]
    assert [s.targets for s in next_steps(moved, held, None, None)] == [(ON_CALL,), (MANAGER,), (CTO,)]
    assert escalate_past(moved, moved.steps[1], held) == moved


def test_passing_over_the_first_level_keeps_the_spacing_of_the_rest() -> None:
    p = plan(runbook(repeat=1), "P2", START)
    moved = escalate_past(p, p.steps[0], START)
    assert [s.due_at - START for s in moved.steps] == [minutes(m) for m in (0, 0, 5, 10, 15, 20)]


def test_passing_over_one_level_of_an_all_at_once_round_moves_nothing() -> None:
    p = plan(runbook(repeat=1, variants=dict(DEFAULT_MATRIX)), "P0", START)
    assert escalate_past(p, p.steps[0], START) == p


def test_only_a_step_of_the_plan_that_is_due_can_be_passed_over() -> None:
    p = plan(runbook(repeat=0), "P2", START)
    with pytest.raises(ValueError, match="step: round 0 level 2 is not due until"):
        escalate_past(p, p.steps[2], START)
    with pytest.raises(ValueError, match="step: round 5 level 0 is not in this plan"):
        escalate_past(p, Step(0, 5, START, (ON_CALL,)), START)


def test_escalating_now_all_at_once_brings_the_next_round_forward() -> None:
    p = plan(runbook(repeat=1, variants=dict(DEFAULT_MATRIX)), "P0", START)
    moved = escalate_now(p, START + minutes(5))
    assert [s.due_at - START for s in moved.steps] == [minutes(0)] * 3 + [minutes(5)] * 3


def test_escalating_now_with_nothing_left_changes_nothing() -> None:
    p = plan(runbook(repeat=0), "P2", START)
    assert escalate_now(p, START + minutes(30)) == p
    record_only = plan(runbook(variants=dict(DEFAULT_MATRIX)), "P3", START)
    assert escalate_now(record_only, START) == record_only


# --- where a running escalation goes when its plan changes ------------------------------------------------------

MATRIX = runbook(repeat=1, variants=dict(DEFAULT_MATRIX) | {"P2": Variant.every(minutes(60))})


def test_resume_moves_the_steps_from_the_next_one_on_to_where_it_is_due() -> None:
    p = plan(runbook(repeat=0), "P2", START)
    moved = resume(p, 1, START + minutes(2))
    assert moved is not None
    assert [s.due_at - START for s in moved.steps] == [minutes(0), minutes(2), minutes(7)]
    assert resume(p, 3, START) is None


def test_a_p2_that_becomes_p0_pages_every_level_left_in_the_round_now() -> None:
    # P2 paged level 1 at START; level 2 would follow an hour later. Twenty minutes in, it is a P0.
    now = START + minutes(20)
    old, new = plan(MATRIX, "P2", START), plan(MATRIX, "P0", START)
    position = follow(old, new, 1, START + minutes(60), now)
    assert position is not None
    assert (new.steps[position.next_step].level, position.next_due_at) == (1, now)
    table = resume(new, position.next_step, position.next_due_at)
    assert table is not None
    assert [(s.round, s.level) for s in next_steps(table, now, None, None)][position.next_step :] == [(0, 1), (0, 2)]


def test_a_shorter_step_delay_counts_from_the_last_page() -> None:
    old, new = plan(MATRIX, "P2", START), plan(MATRIX, "P1", START)
    # Five minutes after level 1: P1's fifteen minutes are not over, so level 2 comes in ten.
    soon = follow(old, new, 1, START + minutes(60), START + minutes(5))
    assert soon is not None
    assert (soon.next_step, soon.next_due_at) == (1, START + minutes(15))
    # Fifty minutes after: they are, so level 2 is due now, not forty minutes ago.
    late = follow(old, new, 1, START + minutes(60), START + minutes(50))
    assert late is not None
    assert late.next_due_at == START + minutes(50)


def test_a_lower_severity_waits_longer_from_the_last_page() -> None:
    old, new = plan(MATRIX, "P1", START), plan(MATRIX, "P2", START)
    position = follow(old, new, 1, START + minutes(15), START + minutes(5))
    assert position is not None
    assert position.next_due_at == START + minutes(60)


def test_an_all_at_once_round_that_becomes_stepped_waits_from_the_round_it_paged() -> None:
    old, new = plan(MATRIX, "P0", START), plan(MATRIX, "P2", START)
    # P0 paged levels 1-3 at START; round 2 was due a round length (15 min) later.
    position = follow(old, new, 3, START + minutes(15), START + minutes(10))
    assert position is not None
    assert (new.steps[position.next_step].round, position.next_due_at) == (1, START + minutes(60))


def test_the_first_step_not_yet_paged_keeps_its_due_time() -> None:
    old, new = plan(MATRIX, "P2", START), plan(MATRIX, "P1", START)
    assert follow(old, new, 0, START, START + minutes(1)) == follow(old, new, 0, START, START)
    position = follow(old, new, 0, START, START + minutes(1))
    assert position is not None
    assert (position.next_step, position.next_due_at) == (0, START)


def test_an_edited_policy_goes_on_from_the_same_level_at_its_new_delay() -> None:
    before = runbook(repeat=0)
    after = Policy("web", (Level((ON_CALL,), minutes(10)), Level((CTO,), minutes(5)), Level((MANAGER,), minutes(5))))
    # Level 1 paged at START, level 2 due at +5; now level 1 has ten minutes.
    position = follow(plan(before, "P2", START), plan(after, "P2", START), 1, START + minutes(5), START + minutes(2))
    assert position is not None
    assert position.next_step == 1
    assert position.next_due_at == START + minutes(10)
    assert plan(after, "P2", START).steps[position.next_step].targets == (CTO,)


def test_a_level_that_no_longer_exists_passes_to_the_next_round_or_ends_the_escalation() -> None:
    three, two = runbook(repeat=1), Policy("web", (Level((ON_CALL,), minutes(5)), Level((MANAGER,), minutes(5))), 1)
    # Level 3 of round 1 was next; the policy has two levels now: round 2 starts 5 minutes after level 2.
    position = follow(plan(three, "P2", START), plan(two, "P2", START), 2, START + minutes(10), START + minutes(6))
    assert position is not None
    new = plan(two, "P2", START)
    assert (new.steps[position.next_step].round, new.steps[position.next_step].level) == (1, 0)
    assert position.next_due_at == START + minutes(10)
    once = Policy("web", two.levels, 0)
    assert follow(plan(three, "P2", START), plan(once, "P2", START), 2, START + minutes(10), START + minutes(6)) is None


@given(
    severity=st.sampled_from(["P0", "P1", "P2"]),
    becomes=st.sampled_from(["P0", "P1", "P2"]),
    next_step=st.integers(min_value=0, max_value=5),
    minutes_in=st.integers(min_value=0, max_value=120),
)
def test_following_a_change_never_pages_a_level_twice_nor_a_step_in_the_past(
    severity: str, becomes: str, next_step: int, minutes_in: int
) -> None:
    old, new = plan(MATRIX, severity, START), plan(MATRIX, becomes, START)
    now = START + minutes(minutes_in)
    due = max(old.steps[next_step].due_at, now) if next_step else START
    position = follow(old, new, next_step, due, now)
    assert position is not None  # both plans have the same levels and rounds
    taken = new.steps[position.next_step]
    assert (taken.round, taken.level) == (old.steps[next_step].round, old.steps[next_step].level)
    assert position.next_due_at >= (now if next_step else START)


# --- validation ------------------------------------------------------------------------------------------------


FIVE_MINUTES = timedelta(minutes=5)


def level(delay: timedelta = FIVE_MINUTES) -> Level:
    return Level((ON_CALL,), delay)


@pytest.mark.parametrize(
    ("make", "field", "message"),
    [
        (lambda: Policy(" ", (level(),)), "name", "name: a policy needs a name"),
        (lambda: Policy("web", ()), "levels", "levels: a policy needs at least one level"),
        (
            lambda: Policy("web", (level(), Level((), minutes(5)))),
            "levels[1].targets",
            "levels[1].targets: a level needs at least one target",
        ),
        (
            lambda: Policy("web", (level(), level(minutes(-1)))),
            "levels[1].delay",
            "levels[1].delay: must not be negative, not -1 day, 23:59:00",
        ),
        (
            lambda: Policy("web", (Level((Target("group", "ops"),), minutes(5)),)),  # type: ignore[arg-type]
            "levels[0].targets[0].kind",
            "levels[0].targets[0].kind: unknown target kind 'group'; expected one of user, schedule, team",
        ),
        (
            lambda: Policy("web", (Level((Target(TargetKind.USER, ""),), minutes(5)),)),
            "levels[0].targets[0].key",
            "levels[0].targets[0].key: a target needs a key",
        ),
        (lambda: Policy("web", (level(),), repeat=-1), "repeat", "repeat: must be 0 or more, not -1"),
        (
            lambda: Policy("web", (level(minutes(0)),), repeat=1),
            "repeat",
            "repeat: a policy whose levels all have no delay cannot repeat",
        ),
        (
            lambda: Policy("web", (level(),), variants={"P1": Variant("sometimes")}),  # type: ignore[arg-type]
            "variants.P1",
            "variants.P1: unknown variant 'sometimes'; expected one of all_at_once, step_delay, record_only",
        ),
        (
            lambda: Policy("web", (level(),), variants={"P1": Variant.every(minutes(0))}),
            "variants.P1.step_delay",
            "variants.P1.step_delay: must be positive, not 0:00:00",
        ),
        (
            lambda: Policy("web", (level(),), variants={"P1": Variant(VariantKind.STEP_DELAY)}),
            "variants.P1.step_delay",
            "variants.P1.step_delay: must be positive, not None",
        ),
        (
            lambda: Policy("web", (level(),), variants={"P0": Variant(VariantKind.ALL_AT_ONCE, minutes(5))}),
            "variants.P0.step_delay",
            "variants.P0.step_delay: only a step_delay variant has a step delay",
        ),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_field(make: object, field: str, message: str) -> None:
    assert callable(make)
    with pytest.raises(PolicyError) as caught:
        make()
    assert caught.value.field == field
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_a_variant_for_a_severity_the_scheme_does_not_have_is_refused() -> None:
    policy = runbook(variants={"P9": Variant.record_only()})
    with pytest.raises(PolicyError, match=r"^variants\.P9: not a level of severity scheme P \(P0, P1, P2, P3\)$"):
        check_severities(policy, P_SCHEME)


def test_a_validated_policy_does_not_change_when_the_callers_dict_does() -> None:
    variants = {"P0": Variant.all_at_once()}
    policy = runbook(variants=variants)
    variants["P1"] = Variant.record_only()
    assert set(policy.variants) == {"P0"}
