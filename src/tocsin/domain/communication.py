"""The rules of the update cadence, the customer notice and the monitoring window: when each
falls due and who is told next when it is ignored. Pure: times come in as parameters.

An owed update (or customer notice) climbs a ladder, one rung per `GRACE` it stays missing:

    due            remind the communications lead, or the commander when there is none
    + GRACE        remind the commander (when the first reminder went to someone else)
    + GRACE        page through the incident's escalation policy

With nobody in either role the ladder waits on its rung (`WAIT`), looking again every `GRACE`,
until someone takes one: paging the on-call person again, after they acknowledged, for a message
nobody was asked to write would only wake them twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tocsin.domain.severity import SeverityPolicy

# How long a reminder may go unanswered before the next rung: long enough to write an update,
# short against the shortest cadence (P0: 15 min).
GRACE = timedelta(minutes=5)


class ReminderKind(StrEnum):
    UPDATE = "update"  # the next status update (any update settles it)
    CUSTOMER_NOTICE = "customer_notice"  # the first public update customers are owed
    MONITORING = "monitoring"  # the post-fix window: when it passes the incident may be resolved


class Action(StrEnum):
    REMIND = "remind"
    PAGE = "page"
    WAIT = "wait"  # nobody to remind: look again after GRACE


@dataclass(frozen=True)
class Rung:
    action: Action
    user_id: int | None  # whom to remind (None for a page)
    next_due: datetime | None  # when the next rung is due; None when this was the last


def next_update_due(policy: SeverityPolicy, since: datetime) -> datetime | None:
    """When the update after one posted (or the declaration) at `since` is owed."""
    return None if policy.update_every is None else since + policy.update_every


def customer_notice_due(policy: SeverityPolicy, declared_at: datetime, drill: bool) -> datetime | None:
    """When customers must have been told; never for a drill, which must not reach them."""
    if drill or policy.customer_notice_within is None:
        return None
    return declared_at + policy.customer_notice_within


def resolvable_at(policy: SeverityPolicy, mitigated_at: datetime) -> datetime:
    return mitigated_at + (policy.watch_after_fix or timedelta(0))


def rung(stage: int, now: datetime, *, communications: int | None, commander: int | None, reminded: int | None) -> Rung:
    """What to do for a reminder at `stage` (0: not yet reminded) that is due at `now`.

    `communications` and `commander` are the current holders' user ids; `reminded` is who the
    last reminder went to."""
    if communications is None and commander is None:
        return Rung(Action.WAIT, None, now + GRACE)
    if stage == 0:
        return Rung(Action.REMIND, communications or commander, now + GRACE)
    if stage == 1 and commander is not None and reminded != commander:
        return Rung(Action.REMIND, commander, now + GRACE)
    return Rung(Action.PAGE, None, None)
