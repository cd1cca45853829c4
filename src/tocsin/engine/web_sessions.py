"""Engine module: forget web sessions that have ended.

An ended session already refuses its cookie (services.web_sessions checks the expiry);
this only keeps the table small, so it runs every ten minutes, not every cycle: a
DELETE takes SQLite's one write lock even when it finds nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tocsin.clock import Clock
from tocsin.services import web_sessions

EVERY = timedelta(minutes=10)


class WebSessionPruning:
    name = "web_sessions"

    def __init__(self) -> None:
        self._last: datetime | None = None  # in memory on purpose: a restart merely prunes sooner

    def run(self, session: Session, clock: Clock) -> int:
        now = clock.now()
        if self._last is not None and now - self._last < EVERY:
            return 0
        self._last = now
        return web_sessions.prune(session, now)
