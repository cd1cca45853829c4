"""Engine module: page the escalation steps that are due (notification rows; the deliveries module sends them)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from tocsin.clock import Clock
from tocsin.services import escalation_steps


class Escalations:
    """Pages batch after batch, each in its own transaction, while batches come back full:
    when thousands of steps fall due at once, the first thousand pages are committed (and
    can be sent) while the next are worked out, instead of all waiting for the last.
    `max_batches` bounds one run, so a backlog cannot keep the modules after it waiting.

    On PostgreSQL a backlog is worked by `workers` transactions at once, each claiming
    batches of its own (`FOR UPDATE SKIP LOCKED`, as two processes do): while one waits for
    the database to write its batch, the next batch is being worked out. On SQLite, which
    has one writer, batches follow each other."""

    name = "escalations"

    def __init__(self, public_url: str, batch: int = 1000, max_batches: int = 50, workers: int = 2) -> None:
        self.public_url = public_url
        self.batch = batch
        self.max_batches = max_batches
        self.workers = max(1, workers)

    def run(self, session: Session, clock: Clock) -> int:
        """One batch, in the caller's transaction."""
        return escalation_steps.due(session, clock.now(), self.batch, public_url=self.public_url)

    def run_with(self, sessions: sessionmaker[Session], clock: Clock) -> int:
        with _without_cycle_collection():
            # The usual run pages a few steps or none: one batch, in this thread.
            first = self._one(sessions, clock)
            if first.claimed < self.batch:
                return first.steps
            bind = sessions.kw.get("bind")
            workers = self.workers if bind is not None and bind.dialect.name == "postgresql" else 1
            backlog = _Backlog(self.max_batches - 1)
            if workers == 1:
                return first.steps + self._drain(sessions, clock, backlog)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="escalations") as pool:
                runs = [pool.submit(self._drain, sessions, clock, backlog) for _ in range(workers)]
                return first.steps + sum(run.result() for run in runs)

    def _one(self, sessions: sessionmaker[Session], clock: Clock) -> escalation_steps.Progress:
        with sessions() as session, session.begin():
            return escalation_steps.due_batch(session, clock.now(), self.batch, public_url=self.public_url)

    def _drain(self, sessions: sessionmaker[Session], clock: Clock, backlog: _Backlog) -> int:
        steps = 0
        while backlog.take():
            progress = self._one(sessions, clock)
            steps += progress.steps
            if progress.claimed < self.batch:
                backlog.done()  # nothing else is due: the other workers stop after their batch
        return steps


class _Backlog:
    """The batches left in one run, shared by its workers."""

    def __init__(self, batches: int) -> None:
        self._left = batches
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True

    def done(self) -> None:
        with self._lock:
            self._left = 0


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """A full batch makes a few hundred thousand short-lived objects; reference counting frees
    them. Left on, Python's cycle collector counts those allocations and walks the young heap
    every few hundred of them: about a quarter of the batch's time. It runs again once the
    run is over. (Process-wide, for a fraction of a second, or a few seconds for a backlog
    of `max_batches`.)"""
    if not gc.isenabled():
        yield  # someone else turned it off: theirs to turn back on
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
