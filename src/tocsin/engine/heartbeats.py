"""Engine module: raise the alert of each heartbeat that went down for lack of a ping."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tocsin.clock import Clock
from tocsin.services import heartbeats


class Heartbeats:
    name = "heartbeats"

    def __init__(self, batch: int = 500) -> None:
        self.batch = batch

    def run(self, session: Session, clock: Clock) -> int:
        return heartbeats.raise_due(session, clock.now(), self.batch)
