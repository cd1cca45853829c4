"""Engine module: record missed acknowledge and resolve targets on the timeline."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tocsin.clock import Clock
from tocsin.services import targets


class ResponseTargets:
    name = "response_targets"

    def __init__(self, batch: int = 100) -> None:
        self.batch = batch

    def run(self, session: Session, clock: Clock) -> int:
        return len(targets.record_due_breaches(session, clock.now(), self.batch))
