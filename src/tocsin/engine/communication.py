"""Engine module: overdue updates and customer notices climb their reminder ladder, and monitoring
windows that passed are recorded (services.communication)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tocsin.clock import Clock
from tocsin.services import communication


class Communication:
    name = "communication"

    def __init__(self, public_url: str = "", batch: int = 100) -> None:
        self.public_url = public_url
        self.batch = batch

    def run(self, session: Session, clock: Clock) -> int:
        return communication.process_due(session, clock.now(), self.batch, self.public_url)
