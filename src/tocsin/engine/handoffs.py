"""Engine module: tell the person coming on call (notification rows; the deliveries module sends them)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from tocsin.clock import Clock
from tocsin.services import handoffs


class Handoffs:
    name = "handoffs"

    def __init__(
        self, public_url: str = "", lookback: timedelta = handoffs.LOOKBACK, lead: timedelta = timedelta(0)
    ) -> None:
        self.public_url = public_url
        self.lookback = lookback
        self.lead = lead

    def run(self, session: Session, clock: Clock) -> int:
        return handoffs.notify_due(session, clock.now(), self.lookback, self.lead, public_url=self.public_url)
