"""The incident state machine and the human incident id.

Statuses move forward along the response; skipping forward is allowed (a fix
found at once goes straight from `triggered` to `resolved`), going back is not,
except that a resolved incident can be reopened to `investigating` and a
monitoring one can fall back to `investigating` when the fix did not hold.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum


class IncidentStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MITIGATING = "mitigating"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CANCELED = "canceled"


FORWARD_ORDER: tuple[IncidentStatus, ...] = (
    IncidentStatus.TRIGGERED,
    IncidentStatus.ACKNOWLEDGED,
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MITIGATING,
    IncidentStatus.MONITORING,
    IncidentStatus.RESOLVED,
)

OPEN_STATUSES = frozenset(FORWARD_ORDER[:-1])
CLOSED_STATUSES = frozenset({IncidentStatus.RESOLVED, IncidentStatus.CANCELED})

# Moves back that a real response needs.
_REOPEN_MOVES = {
    (IncidentStatus.MONITORING, IncidentStatus.INVESTIGATING),
    (IncidentStatus.RESOLVED, IncidentStatus.INVESTIGATING),
}


def transition_error(current: IncidentStatus, target: IncidentStatus) -> str | None:
    """Why `current → target` is refused, or None when the move is allowed."""
    if current == target:
        return f"the incident is already {current.value}"
    if current == IncidentStatus.CANCELED:
        return "a canceled incident cannot change status"
    if target == IncidentStatus.CANCELED:
        if current == IncidentStatus.RESOLVED:
            return "a resolved incident cannot be canceled"
        return None
    if (current, target) in _REOPEN_MOVES:
        return None
    if FORWARD_ORDER.index(target) < FORWARD_ORDER.index(current):
        return f"cannot move back from {current.value} to {target.value}"
    return None


def can_transition(current: IncidentStatus, target: IncidentStatus) -> bool:
    return transition_error(current, target) is None


HUMAN_ID_RE = re.compile(r"^INC-(\d{4})-(\d{2})-(\d{2})-(\d{3,})$")


def format_human_id(day: date, sequence: int) -> str:
    if sequence < 1:
        raise ValueError("incident sequence starts at 1")
    return f"INC-{day.isoformat()}-{sequence:03d}"


def parse_human_id(value: str) -> tuple[date, int] | None:
    match = HUMAN_ID_RE.match(value)
    if match is None:
        return None
    year, month, day, seq = (int(g) for g in match.groups())
    try:
        return date(year, month, day), seq
    except ValueError:
        return None
