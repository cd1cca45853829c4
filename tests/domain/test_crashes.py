"""Crash rules: fingerprints that survive line shifts, `{{ default }}`, regressions by release,
spikes once per window, level → alert severity, and the crash-free rate."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.domain import crashes as domain
from tocsin.domain.alerts import DEFAULT_SEVERITY_RANK, LOW_URGENCY_SEVERITIES
from tocsin.domain.crashes import Crash, ExceptionInfo, Frame, GroupStatus, Level, SessionCounts, SessionStatus

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def crash(*frames: Frame, type_: str = "KeyError", value: str = "'user'", **fields: object) -> Crash:
    exception = ExceptionInfo(type=type_, value=value, frames=frames)
    return Crash(event_id="0" * 32, exceptions=(exception,), **fields)  # type: ignore[arg-type]


LIB = Frame(function="get", module="requests.sessions", lineno=500, in_app=False)
VIEW = Frame(function="show_cart", module="shop.views", lineno=42, in_app=True)
MODEL = Frame(function="total", module="shop.models", lineno=7, in_app=True)


# ---- fingerprints --------------------------------------------------------------------------


def test_the_default_fingerprint_is_the_type_and_the_in_app_frames_nearest_the_raise() -> None:
    assert domain.fingerprint_parts(crash(VIEW, MODEL, LIB)) == [
        "type:KeyError",
        "shop.models:total",
        "shop.views:show_cart",
    ]


def test_a_line_shifted_by_an_edit_and_another_message_keep_the_group() -> None:
    before = crash(VIEW, MODEL)
    after = crash(replace(VIEW, lineno=45), replace(MODEL, lineno=9), value="'account'")
    assert domain.fingerprint(before) == domain.fingerprint(after)


def test_another_function_or_type_is_another_group() -> None:
    base = domain.fingerprint(crash(VIEW, MODEL))
    assert domain.fingerprint(crash(VIEW, replace(MODEL, function="subtotal"))) != base
    assert domain.fingerprint(crash(VIEW, MODEL, type_="ValueError")) != base


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("<lambda>", "<lambda>"),
        ("lambda$run$0", "lambda$run$3"),
        ("Object.<anonymous>", "Object.<anonymous>"),
        ("closure#1", "closure#12"),
        ("handler at 0x7f1d2fabeb90", "handler at 0x7f00deadbeef"),
    ],
)
def test_numbered_anonymous_functions_and_addresses_do_not_split_a_group(first: str, second: str) -> None:
    one = crash(replace(VIEW, function=first))
    two = crash(replace(VIEW, function=second))
    assert domain.fingerprint(one) == domain.fingerprint(two)


def test_a_bundlers_hashed_file_name_does_not_split_a_group() -> None:
    one = crash(Frame(function="onClick", filename="/static/app.3f9a2c1d77.js", in_app=True))
    two = crash(Frame(function="onClick", filename="/static/app.a1b2c3d4e5.js", in_app=True))
    assert domain.fingerprint(one) == domain.fingerprint(two)


def test_without_in_app_frames_every_frame_counts_and_without_frames_the_value_does() -> None:
    assert domain.fingerprint_parts(crash(LIB)) == ["type:KeyError", "requests.sessions:get"]
    assert domain.fingerprint_parts(crash(value="timeout after 30 s")) == ["type:KeyError", "value:timeout after <n> s"]


def test_messages_group_by_their_words_not_their_numbers() -> None:
    one = Crash(event_id="1" * 32, message="Payment took 5012 ms")
    two = Crash(event_id="2" * 32, message="Payment took 731 ms")
    assert domain.fingerprint(one) == domain.fingerprint(two)
    assert domain.title_of(one) == "Payment took 5012 ms"


def test_the_sdks_fingerprint_overrides_and_default_expands_in_it() -> None:
    base = crash(VIEW, MODEL)
    custom = replace(base, fingerprint=("database-unavailable",))
    assert domain.fingerprint_parts(custom) == ["custom:database-unavailable"]
    # Two crashes told apart only by the SDK's fingerprint are one group each way.
    assert domain.fingerprint(custom) == domain.fingerprint(replace(crash(LIB), fingerprint=("database-unavailable",)))
    expanded = replace(base, fingerprint=("{{ default }}", "tenant-42"))
    assert domain.fingerprint_parts(expanded) == [*domain.fingerprint_parts(base), "custom:tenant-42"]
    assert domain.fingerprint(expanded) != domain.fingerprint(base)


def test_title_and_culprit() -> None:
    found = crash(VIEW, MODEL, value="'user'\nmore")
    assert domain.title_of(found) == "KeyError: 'user'"
    assert domain.culprit_of(found) == "shop.models in total"
    assert domain.title_of(crash()) == "KeyError: 'user'"


# ---- releases and regressions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("release", "than", "later"),
    [
        ("shop@1.10.0", "shop@1.9.0", True),
        ("shop@1.9.0", "shop@1.10.0", False),
        ("shop@1.2.0", "shop@1.2.0", False),
        ("2.0.0-rc.2", "2.0.0-rc.1", True),
        ("v2", "v1.9", True),
        ("web@2.0.0", "shop@1.0.0", None),
        ("a1b2c3d", "e4f5a6b", None),
        ("20261124", "20261123", True),
        ("", "shop@1.0.0", None),
    ],
)
def test_releases_compare_by_version_numbers(release: str, than: str, later: bool | None) -> None:
    assert domain.is_later_release(release, than) is later


def test_a_resolved_group_seen_in_a_later_release_regresses_not_in_the_same_or_an_older() -> None:
    resolved = GroupStatus.RESOLVED
    assert domain.is_regression(resolved, "shop@1.2.0", "shop@1.3.0")
    assert not domain.is_regression(resolved, "shop@1.2.0", "shop@1.2.0")
    assert not domain.is_regression(resolved, "shop@1.2.0", "shop@1.1.9")
    # Unorderable releases (commit hashes): any other one is a regression, as is no release at all.
    assert domain.is_regression(resolved, "a1b2c3d", "e4f5a6b")
    assert domain.is_regression(resolved, None, "shop@1.2.0")
    assert domain.is_regression(resolved, "shop@1.2.0", "")
    assert not domain.is_regression(GroupStatus.OPEN, "shop@1.2.0", "shop@9.0.0")
    assert not domain.is_regression(GroupStatus.IGNORED, None, "shop@9.0.0")


# ---- spikes ------------------------------------------------------------------------------------


def test_a_spike_is_n_events_within_the_window_raised_once_per_window() -> None:
    rule = domain.SpikeRule(events=10, window=timedelta(minutes=5))
    assert not domain.is_spike(rule, 9, None, NOW)
    assert domain.is_spike(rule, 10, None, NOW)
    assert not domain.is_spike(rule, 50, NOW - timedelta(minutes=4), NOW)
    assert domain.is_spike(rule, 50, NOW - timedelta(minutes=5), NOW)


def test_spike_settings_are_checked() -> None:
    assert domain.SpikeRule.of({"spike_events": 20, "spike_minutes": 3}) == domain.SpikeRule(20, timedelta(minutes=3))
    assert domain.SpikeRule.of({}) == domain.SpikeRule()
    assert domain.settings_problem({"spike_events": 1}) == (
        "spike_events",
        "spike_events must be a whole number from 2 to 1000000",
    )
    assert domain.settings_problem({"spike_minutes": True}) is not None
    assert domain.settings_problem({"spike_events": 50, "spike_minutes": 60}) is None


# ---- levels ---------------------------------------------------------------------------------------


def test_fatal_and_error_page_at_p1_and_p2_and_a_warning_is_low_urgency() -> None:
    assert DEFAULT_SEVERITY_RANK[domain.alert_severity(Level.FATAL)] == 1
    assert DEFAULT_SEVERITY_RANK[domain.alert_severity(Level.ERROR)] == 2
    assert domain.alert_severity(Level.WARNING) in LOW_URGENCY_SEVERITIES
    assert domain.alert_severity(Level.INFO) in LOW_URGENCY_SEVERITIES


@pytest.mark.parametrize(
    ("word", "level"),
    [("fatal", Level.FATAL), ("critical", Level.FATAL), ("warn", Level.WARNING), ("ERROR", Level.ERROR),
     ("", Level.ERROR), ("nonsense", Level.ERROR), ("debug", Level.DEBUG)],
)  # fmt: skip
def test_levels_read_as_sentry_and_python_logging_name_them(word: str, level: Level) -> None:
    assert domain.level_of(word) == level


# ---- sessions ---------------------------------------------------------------------------------------


def test_a_session_counts_once_when_it_starts_and_once_by_how_it_ends() -> None:
    updates = [
        domain.session_update(SessionStatus.OK, True, 0),
        domain.session_update(SessionStatus.OK, False, 0),  # an update mid-session adds nothing
        domain.session_update(SessionStatus.CRASHED, False, 1),
        domain.session_update(SessionStatus.EXITED, True, 0),
        domain.session_update(SessionStatus.EXITED, True, 2),
        domain.session_update(SessionStatus.ABNORMAL, True, 0),
    ]
    total = sum(updates, SessionCounts())
    assert total == SessionCounts(total=4, errored=1, crashed=1, abnormal=1)
    assert total.crash_free == pytest.approx(0.75)


def test_an_aggregate_bucket_counts_each_ended_session_as_started() -> None:
    assert domain.aggregate_bucket(exited=7, errored=1, abnormal=0, crashed=2) == SessionCounts(10, 1, 2, 0)
    assert domain.aggregate_bucket(7, 1, 0, 2).crash_free == pytest.approx(0.8)
    assert SessionCounts().crash_free is None
