from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from tocsin.domain.incidents import (
    CLOSED_STATUSES,
    FORWARD_ORDER,
    IncidentStatus,
    can_transition,
    format_human_id,
    parse_human_id,
    transition_error,
)

statuses = st.sampled_from(list(IncidentStatus))


def test_it_allows_every_forward_move_including_skips() -> None:
    for i, current in enumerate(FORWARD_ORDER):
        for target in FORWARD_ORDER[i + 1 :]:
            assert can_transition(current, target), (current, target)


def test_it_refuses_moving_back_with_the_reason() -> None:
    assert transition_error(IncidentStatus.IDENTIFIED, IncidentStatus.ACKNOWLEDGED) == (
        "cannot move back from identified to acknowledged"
    )


def test_a_resolved_incident_can_be_reopened_but_not_canceled() -> None:
    assert can_transition(IncidentStatus.RESOLVED, IncidentStatus.INVESTIGATING)
    assert (
        transition_error(IncidentStatus.RESOLVED, IncidentStatus.CANCELED) == "a resolved incident cannot be canceled"
    )


def test_a_canceled_incident_is_final() -> None:
    for target in IncidentStatus:
        assert not can_transition(IncidentStatus.CANCELED, target)


def test_staying_put_is_not_a_move() -> None:
    assert (
        transition_error(IncidentStatus.MITIGATING, IncidentStatus.MITIGATING) == "the incident is already mitigating"
    )


@given(statuses, statuses)
def test_every_refusal_has_a_reason_and_every_allowed_move_none(
    current: IncidentStatus, target: IncidentStatus
) -> None:
    reason = transition_error(current, target)
    assert (reason is None) == can_transition(current, target)
    if reason is not None:
        assert reason.strip()


@given(st.lists(statuses, max_size=30))
def test_no_walk_returns_to_triggered_or_leaves_canceled(path: list[IncidentStatus]) -> None:
    current = IncidentStatus.TRIGGERED
    for target in path:
        if not can_transition(current, target):
            continue
        assert current != IncidentStatus.CANCELED
        assert target != IncidentStatus.TRIGGERED
        current = target


@given(statuses)
def test_any_open_incident_can_be_canceled_or_resolved(current: IncidentStatus) -> None:
    if current in CLOSED_STATUSES:
        return
    assert can_transition(current, IncidentStatus.CANCELED)
    assert can_transition(current, IncidentStatus.RESOLVED) or current == IncidentStatus.RESOLVED


def test_human_ids_are_zero_padded_per_day() -> None:
    assert format_human_id(date(2026, 11, 23), 7) == "INC-2026-11-23-007"
    assert format_human_id(date(2026, 11, 23), 1234) == "INC-2026-11-23-1234"


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2999, 12, 31)), st.integers(min_value=1, max_value=99_999))
def test_human_ids_round_trip(day: date, sequence: int) -> None:
    assert parse_human_id(format_human_id(day, sequence)) == (day, sequence)


@given(st.text(max_size=30))
def test_parsing_garbage_never_raises(value: str) -> None:
    parsed = parse_human_id(value)
    if parsed is not None:
        day, sequence = parsed
        assert value.startswith(f"INC-{day.isoformat()}-")
        assert int(value.rsplit("-", 1)[1]) == sequence


def test_impossible_dates_are_not_ids() -> None:
    assert parse_human_id("INC-2026-02-30-001") is None
    assert parse_human_id("INC-2026-11-23-01") is None
