"""When repeated CI failures are worth an alert: in a row, within a window, and what a success does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.domain import ci
from tocsin.domain.ci import Run, Thresholds, failing

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEFAULT = Thresholds()  # 2 in a row, or 3 within 1 h


def runs(*spec: tuple[int, bool]) -> list[Run]:
    """(minutes ago, failed), newest first."""
    return [Run(NOW - timedelta(minutes=ago), failed) for ago, failed in spec]


def test_one_red_run_is_not_an_alert() -> None:
    assert failing(runs((0, True)), NOW, DEFAULT) is None
    assert failing([], NOW, DEFAULT) is None


def test_two_failures_in_a_row_are() -> None:
    assert failing(runs((0, True), (5, True)), NOW, DEFAULT) == "2 failures in a row"
    # The streak is counted whole, beyond the threshold.
    assert failing(runs((0, True), (5, True), (9, True), (12, False)), NOW, DEFAULT) == "3 failures in a row"


def test_a_success_as_the_newest_run_resolves_whatever_came_before() -> None:
    assert failing(runs((0, False), (5, True), (9, True), (12, True)), NOW, DEFAULT) is None


def test_a_success_between_failures_breaks_the_streak() -> None:
    assert failing(runs((0, True), (5, False), (9, True)), NOW, DEFAULT) is None


def test_three_failures_within_the_window_count_even_with_successes_between() -> None:
    spread = runs((0, True), (10, False), (20, True), (30, False), (50, True))
    assert failing(spread, NOW, DEFAULT) == "3 failures within 1h"
    # The third is older than the window: not yet a broken branch.
    beyond = runs((0, True), (10, False), (20, True), (30, False), (61, True))
    assert failing(beyond, NOW, DEFAULT) is None


def test_the_window_is_inclusive() -> None:
    exactly = runs((0, True), (10, False), (20, True), (30, False), (60, True))
    assert failing(exactly, NOW, DEFAULT) == "3 failures within 1h"


def test_zero_turns_a_rule_off() -> None:
    no_streak = Thresholds(in_a_row=0, in_window=3)
    assert failing(runs((0, True), (5, True)), NOW, no_streak) is None
    assert failing(runs((0, True), (5, True), (9, True)), NOW, no_streak) == "3 failures within 1h"
    no_window = Thresholds(in_a_row=4, in_window=0, window=timedelta(days=1))
    assert failing(runs((0, True), (5, False), (9, True), (12, True)), NOW, no_window) is None
    assert failing(runs((0, True), (5, True), (9, True), (12, True)), NOW, no_window) == "4 failures in a row"


def test_the_window_is_named_in_its_largest_whole_unit() -> None:
    two_days = Thresholds(in_a_row=0, in_window=2, window=timedelta(days=2))
    assert failing(runs((0, True), (2000, True)), NOW, two_days) == "2 failures within 2d"
    odd = Thresholds(in_a_row=0, in_window=2, window=timedelta(seconds=90))
    assert failing(runs((0, True), (1, True)), NOW, odd) == "2 failures within 90s"


def test_thresholds_come_from_the_integrations_settings_with_defaults() -> None:
    assert ci.thresholds_of({}) == Thresholds(2, 3, timedelta(hours=1))
    settings = {"failures_in_a_row": 3, "failures_in_window": 5, "failure_window_s": 7200}
    assert ci.thresholds_of(settings) == Thresholds(3, 5, timedelta(hours=2))


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"failures_in_a_row": -1}, "failures_in_a_row"),
        ({"failures_in_a_row": 101}, "failures_in_a_row"),
        ({"failures_in_window": True}, "failures_in_window"),
        ({"failures_in_window": "3"}, "failures_in_window"),
        ({"failure_window_s": 59}, "failure_window_s"),
        ({"failure_window_s": 7 * 86400 + 1}, "failure_window_s"),
    ],
)
def test_settings_out_of_bounds_name_their_field(settings: dict[str, object], field: str) -> None:
    problem = ci.settings_problem(settings)
    assert problem is not None
    assert problem[0] == field


def test_settings_at_their_bounds_are_fine() -> None:
    assert ci.settings_problem({"failures_in_a_row": 0, "failures_in_window": 100, "failure_window_s": 60}) is None
    assert ci.settings_problem({"failure_window_s": 7 * 86400}) is None
