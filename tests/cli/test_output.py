from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tocsin.cli.output import age, between, duration, when

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_durations_read_at_a_glance() -> None:
    assert [duration(s) for s in (None, 0, 59, 300, 3_600, 5_400, 86_400, 2 * 86_400 + 3 * 3_600 + 240)] == [
        "—", "0s", "59s", "5m", "1h", "1h 30m", "1d", "2d 3h",
    ]  # fmt: skip


def test_ages_point_the_right_way() -> None:
    assert age(NOW - timedelta(seconds=30), NOW) == "just now"
    assert age(NOW - timedelta(minutes=42), NOW) == "42m ago"
    assert age(NOW + timedelta(minutes=15), NOW) == "in 15m"


def test_times_are_shown_in_utc_whatever_zone_the_server_wrote() -> None:
    assert when("2026-11-23T10:00:00+01:00") == "2026-11-23 09:00 UTC"
    assert when("2026-11-23T08:55:00Z", relative_to=NOW) == "2026-11-23 08:55 UTC (5m ago)"
    assert when("2026-11-23T09:00:00") == "2026-11-23 09:00 UTC"  # naive means UTC
    assert when(None) == "—"
    assert between("2026-11-23T09:00:00Z", "2026-11-23T09:42:10Z") == "42m"
    assert between("2026-11-23T09:00:00Z", None) is None
