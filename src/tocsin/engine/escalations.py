"""Engine module: page the escalation steps that are due (notification rows; the deliveries module sends them)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from tocsin.clock import Clock
from tocsin.services import escalation_steps


class Escalations:
    """Pages batch after batch, each in its own transaction, while batches come back full:
    when thousands of steps fall due at once, the first thousand pages are committed (and
    can be sent) while the next are worked out, instead of all waiting for the last.
    `max_batches` bounds one run, so a backlog cannot keep the modules after it waiting."""

    name = "escalations"

    def __init__(self, public_url: str, batch: int = 1000, max_batches: int = 50) -> None:
        self.public_url = public_url
        self.batch = batch
        self.max_batches = max_batches

    def run(self, session: Session, clock: Clock) -> int:
        """One batch, in the caller's transaction."""
        return escalation_steps.due(session, clock.now(), self.batch, public_url=self.public_url)

    def run_with(self, sessions: sessionmaker[Session], clock: Clock) -> int:
        steps = 0
        for _ in range(self.max_batches):
            with _without_cycle_collection(), sessions() as session, session.begin():
                progress = escalation_steps.due_batch(session, clock.now(), self.batch, public_url=self.public_url)
            steps += progress.steps
            if progress.claimed < self.batch:
                break
        return steps


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """A full batch makes a few hundred thousand short-lived objects; reference counting frees
    them. Left on, Python's cycle collector counts those allocations and walks the young heap
    every few hundred of them: about a quarter of the batch's time. It runs again once the
    batch is over. (Process-wide, for a fraction of a second.)"""
    if not gc.isenabled():
        yield  # someone else turned it off: theirs to turn back on
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
