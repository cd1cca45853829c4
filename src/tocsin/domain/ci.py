"""When CI failures are worth an alert: a workflow failing on a branch again and again.

One red run is a flaky test or a bad commit its author is already looking at;
`in_a_row` failures with no success between them, or `in_window` failures
within `window`, is a broken branch. Either rule can be turned off with 0.
Runs are ordered and timed by when Tocsin heard of them: GitHub sends a run's
delivery as it completes, and a redelivery is recognised, not counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MAX_COUNT = 100
MAX_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Thresholds:
    in_a_row: int = 2
    in_window: int = 3
    window: timedelta = timedelta(hours=1)


# The integration settings that set them, and their defaults.
SETTINGS = {"failures_in_a_row": 2, "failures_in_window": 3, "failure_window_s": 3600}


def settings_problem(settings: Mapping[str, Any]) -> tuple[str, str] | None:
    """(field, message) for a threshold setting that is wrong, or None."""
    for name in ("failures_in_a_row", "failures_in_window"):
        value = settings.get(name, SETTINGS[name])
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
            return name, f"{name} must be a whole number from 0 (off) to {MAX_COUNT}"
    window = settings.get("failure_window_s", SETTINGS["failure_window_s"])
    if not isinstance(window, int) or isinstance(window, bool) or not 60 <= window <= MAX_WINDOW.total_seconds():
        return "failure_window_s", f"failure_window_s must be seconds from 60 to {int(MAX_WINDOW.total_seconds())}"
    return None


def thresholds_of(settings: Mapping[str, Any]) -> Thresholds:
    """From settings that passed `settings_problem`."""
    return Thresholds(
        in_a_row=int(settings.get("failures_in_a_row", SETTINGS["failures_in_a_row"])),
        in_window=int(settings.get("failures_in_window", SETTINGS["failures_in_window"])),
        window=timedelta(seconds=int(settings.get("failure_window_s", SETTINGS["failure_window_s"]))),
    )


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Run:
    at: datetime
    failed: bool


def failing(runs: Sequence[Run], now: datetime, thresholds: Thresholds) -> str | None:
    """Why the workflow counts as failing, given its newest runs first; None when it does not.
    `runs` needs the newest `in_a_row` runs and the newest `in_window` failures (successes
    between older failures may be left out). The window is inclusive: a failure exactly
    `window` ago still counts."""
    if not runs or not runs[0].failed:
        return None
    streak = 0
    for run in runs:
        if not run.failed:
            break
        streak += 1
    if thresholds.in_a_row and streak >= thresholds.in_a_row:
        return f"{streak} failures in a row"
    since = now - thresholds.window
    recent = sum(1 for run in runs if run.failed and run.at >= since)
    if thresholds.in_window and recent >= thresholds.in_window:
        return f"{recent} failures within {_span(thresholds.window)}"
    return None
