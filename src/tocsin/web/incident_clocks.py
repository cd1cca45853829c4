"""An incident's clocks as a responder reads them: how long it has run, where its
acknowledge and resolve targets stand, and when the next update is owed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tocsin.domain.clocks import TargetKind
from tocsin.domain.incidents import OPEN_STATUSES, IncidentStatus
from tocsin.domain.severity import SeverityLevel
from tocsin.storage.models import Incident, ResponseTarget


@dataclass(frozen=True)
class ClockView:
    label: str
    # pending / met / missed / canceled for a target; "due" / "overdue" for the update cadence;
    # "running" / "stopped" for the age; "info" for the last update's time.
    state: str
    at: datetime | None  # when the target falls due, or the moment shown
    left: timedelta | None  # until `at` (negative: past it)

    @property
    def overdue(self) -> bool:
        return self.state in ("missed", "overdue") or (
            self.state == "pending" and self.left is not None and self.left < timedelta(0)
        )


@dataclass(frozen=True)
class IncidentClocks:
    age: timedelta
    running: bool
    clocks: tuple[ClockView, ...]


_TARGET_LABELS = {TargetKind.ACKNOWLEDGE.value: "Acknowledge", TargetKind.RESOLVE.value: "Resolve"}


def clocks_of(
    incident: Incident,
    targets: Sequence[ResponseTarget],
    level: SeverityLevel | None,
    last_update: datetime | None,
    now: datetime,
) -> IncidentClocks:
    status = IncidentStatus(incident.status)
    running = status in OPEN_STATUSES
    ended = incident.resolved_at or incident.canceled_at
    age = (now if running or ended is None else ended) - incident.declared_at
    views: list[ClockView] = []
    for kind in (TargetKind.ACKNOWLEDGE.value, TargetKind.RESOLVE.value):
        for target in targets:
            if target.kind == kind:
                views.append(ClockView(_TARGET_LABELS[kind], target.status, target.due_at, target.due_at - now))
    cadence = level.policy.update_every if level is not None else None
    if running and cadence is not None:
        due = (last_update or incident.declared_at) + cadence
        views.append(ClockView("Next update", "overdue" if due <= now else "due", due, due - now))
    elif last_update is not None:
        views.append(ClockView("Last update", "info", last_update, last_update - now))
    return IncidentClocks(age, running, tuple(views))
