"""Engine module: page the escalation steps that are due (notification rows; the deliveries module sends them)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tocsin.clock import Clock
from tocsin.services import escalations


class Escalations:
    name = "escalations"

    def __init__(self, public_url: str, batch: int = 100) -> None:
        self.public_url = public_url
        self.batch = batch

    def run(self, session: Session, clock: Clock) -> int:
        return escalations.due(session, clock.now(), self.batch, public_url=self.public_url)
