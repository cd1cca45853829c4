"""Engine module: reminders about action items (due soon, overdue, escalated to the commander)
become notification rows, which the deliveries module sends."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tocsin.clock import Clock
from tocsin.services import action_items


class ActionItemReminders:
    name = "action_item_reminders"

    def __init__(self, public_url: str = "", batch: int = 100) -> None:
        self.public_url = public_url
        self.batch = batch

    def run(self, session: Session, clock: Clock) -> int:
        return action_items.send_due_reminders(session, clock.now(), self.batch, self.public_url)
