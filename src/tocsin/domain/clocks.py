"""Response-target clocks: when each target of a severity policy falls due."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tocsin.domain.severity import SeverityPolicy


class TargetKind(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


def target_due(kind: TargetKind, declared_at: datetime, policy: SeverityPolicy) -> datetime | None:
    """Targets count from the declaration, so a severity change keeps the start."""
    window = policy.ack_within if kind == TargetKind.ACKNOWLEDGE else policy.resolve_within
    return None if window is None else declared_at + window
