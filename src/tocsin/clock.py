"""Time as a dependency.

Everything that asks "what time is it?" asks a `Clock`, so tests move time
with `FrozenClock.advance()` instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to; safe to share between threads."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class FileClock:
    """Reads the current instant from a file: lets tests move the time of a
    whole `tocsin serve` process. Only used when TOCSIN_TEST_CLOCK_FILE is set."""

    def __init__(self, path: str) -> None:
        self._path = path

    def now(self) -> datetime:
        with open(self._path, encoding="utf-8") as handle:
            value = datetime.fromisoformat(handle.read().strip())
        return as_utc(value)


def from_env(env: dict[str, str]) -> Clock:
    path = env.get("TOCSIN_TEST_CLOCK_FILE")
    return FileClock(path) if path else SystemClock()
