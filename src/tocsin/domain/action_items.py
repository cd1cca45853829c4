"""Action item rules: priorities and their default due dates, the status moves, and the
reminders owed about an item.

Reminders: the owner hears `REMIND_BEFORE` ahead of the due date and again when it
passes; a P0 or P1 item still open `ESCALATE_AFTER` the due date goes to the
incident's commander.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_DUE = {
    "P0": timedelta(hours=48),
    "P1": timedelta(weeks=1),
    "P2": timedelta(weeks=2),
    "P3": timedelta(days=30),
}
PRIORITIES = tuple(DEFAULT_DUE)
ESCALATED_PRIORITIES = frozenset({"P0", "P1"})
REMIND_BEFORE = timedelta(hours=24)
ESCALATE_AFTER = timedelta(hours=24)


class ActionItemStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WONT_DO = "wont_do"


FINISHED = frozenset({ActionItemStatus.DONE, ActionItemStatus.WONT_DO})


class ReminderKind(StrEnum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    ESCALATION = "escalation"


def priority_problem(priority: str) -> str | None:
    if priority not in DEFAULT_DUE:
        return f"unknown priority {priority!r}; expected one of {', '.join(PRIORITIES)}"
    return None


def default_due(priority: str, created_at: datetime) -> datetime:
    return created_at + DEFAULT_DUE[priority]


def transition_error(current: ActionItemStatus, target: ActionItemStatus) -> str | None:
    """open → in_progress → done | wont_do; a finished item can be reopened; anything may finish."""
    if current == target:
        return f"the action item is already {target.value.replace('_', ' ')}"
    return None


def is_overdue(status: ActionItemStatus, due_at: datetime, now: datetime) -> bool:
    return status not in FINISHED and due_at <= now


@dataclass(frozen=True)
class Reminder:
    kind: ReminderKind
    due_at: datetime


def reminders(priority: str, due_at: datetime, now: datetime) -> list[Reminder]:
    """The reminders owed for an open item due at `due_at`, planned at `now`. A heads-up
    that would come at once (the item is due within `REMIND_BEFORE`) is left out: the
    owner has just been given the item."""
    planned = []
    if due_at - REMIND_BEFORE > now:
        planned.append(Reminder(ReminderKind.DUE_SOON, due_at - REMIND_BEFORE))
    planned.append(Reminder(ReminderKind.OVERDUE, due_at))
    if priority in ESCALATED_PRIORITIES:
        planned.append(Reminder(ReminderKind.ESCALATION, due_at + ESCALATE_AFTER))
    return planned
