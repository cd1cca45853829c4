"""Hand-off notifications: the person coming on call is told, once, through their contact methods.

Nothing is stored about hand-offs themselves: every engine cycle asks each schedule
for the hand-offs in the last `lookback` (`domain.schedules.handoffs`) and writes one
`handoff` notification row per verified contact method of the incoming person, keyed
by schedule, instant, user and method. The unique key makes a replay — the next
cycle, a second process — insert nothing, so the window can overlap from one cycle
to the next without anyone hearing twice. The deliveries module sends the rows.

Only the incoming person is told; the one going off already knows their shift ends.
A stretch where nobody is on call has nobody to tell, and a schedule's first shift,
starting as it is created, is not announced (see `notify_due`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.domain import schedules as domain
from tocsin.services import notifications, schedules
from tocsin.storage import models
from tocsin.storage.repositories import paging as repo

LOOKBACK = timedelta(minutes=15)
# Domain ranges are half-open [start, end); one microsecond turns them into (start, end].
_TICK = timedelta(microseconds=1)
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # not %a: that follows the locale


@dataclass(frozen=True)
class _Due:
    schedule: models.Schedule
    handoff: domain.Handoff
    heads_up: bool  # announced ahead of time (`lead`), not as it happens


def notify_due(
    session: Session,
    now: datetime,
    lookback: timedelta = LOOKBACK,
    lead: timedelta = timedelta(0),
    *,
    public_url: str = "",
) -> int:
    """Write the hand-off notifications owed at `now`; returns how many rows are new.

    A hand-off in (now - lookback, now] is announced; with `lead` > 0 so is one in
    (now, now + lead], as a heads-up with a key of its own, so the announcement at
    the hand-off still follows. `public_url` is where people reach this server.
    """
    if lookback <= timedelta(0):
        raise ValueError(f"lookback: must be positive, not {lookback}")
    if lead < timedelta(0):
        raise ValueError(f"lead: must not be negative, not {lead}")
    # A hand-off older than `lookback` (the server was down, the engine stalled) is not
    # announced late: "you are on call" hours into the shift is noise, and the shift's
    # start has passed either way. Coverage gaps are what readiness warnings are for.
    due: list[_Due] = []
    for schedule in repo.list_schedules(session):
        rules = schedules.to_domain(schedule)
        for handoff in domain.handoffs(rules, now - lookback + _TICK, now + _TICK):
            # A shift that began as (or before) the schedule was created is its setup, not a
            # hand-off: whoever set it up told the people in it, and "you are on call" for a
            # shift already under way is the late announcement this module does not make.
            if handoff.at > schedule.created_at:
                due.append(_Due(schedule, handoff, heads_up=False))
        if lead > timedelta(0):
            for handoff in domain.handoffs(rules, now + _TICK, now + lead + _TICK):
                due.append(_Due(schedule, handoff, heads_up=True))
    incoming = [d for d in due if d.handoff.on is not None]
    if not incoming:
        return 0

    people = repo.users_by_emails(
        session, [who.user for d in incoming for who in (d.handoff.on, d.handoff.off) if who is not None]
    )
    methods: dict[int, list[models.ContactMethod]] = {}
    count = 0
    for item in incoming:
        assert item.handoff.on is not None
        user = people.get(item.handoff.on.user.lower())
        if user is None or not user.active:
            continue  # removed or deactivated since the schedule named them: nobody to tell
        if user.id not in methods:
            methods[user.id] = notifications.reachable_methods(session, user.id)
        keyed = {_key(item, user.id, method.id): method for method in methods[user.id]}
        missing = _missing(session, list(keyed))
        if not missing:
            continue  # announced by an earlier cycle: the common case, so skip the look-ahead
        payload = _payload(item, user, people, now, public_url)
        for key in missing:
            owed = notifications.owe_once(
                session, now, key=key, kind="handoff", user_id=user.id, method=keyed[key], payload=payload
            )
            count += owed is not None
    session.flush()
    return count


def _key(item: _Due, user_id: int, method_id: int) -> str:
    prefix = "handoff-soon" if item.heads_up else "handoff"
    at = int(item.handoff.at.timestamp())
    return f"{prefix}:{item.schedule.id}:{at}:{user_id}:{method_id}"


def _missing(session: Session, keys: Sequence[str]) -> list[str]:
    # Checked before inserting so that a cycle every few seconds does not burn a sequence
    # value per conflicting INSERT; the INSERT's ON CONFLICT still settles a race.
    if not keys:
        return []
    existing = set(
        session.scalars(
            select(models.Notification.idempotency_key).where(models.Notification.idempotency_key.in_(keys))
        )
    )
    return [key for key in keys if key not in existing]


def _payload(
    item: _Due, user: models.User, people: dict[str, models.User], now: datetime, public_url: str
) -> dict[str, object]:
    schedule, handoff = item.schedule, item.handoff
    zone = _zone(user.time_zone)
    until = _next_handoff(schedule, handoff.at)
    starts, ends = _when(handoff.at, zone), _when(until, zone) if until else "no hand-off in the next 90 days"
    giver = _name(handoff.off.user, people) if handoff.off is not None else ""
    hands_over = f"{giver} hands over to you" if giver else "nobody was on call before you"
    if item.heads_up:
        title = f"You go on call soon: {schedule.name}"
        text = f"You go on call in {schedule.name} from {starts} until {ends}; {hands_over}."
    else:
        title = f"You are on call: {schedule.name}"
        text = f"You are on call in {schedule.name} from {starts} until {ends}; {hands_over}."
    fields = [["Schedule", schedule.name], ["From", starts], ["Until", ends]]
    fields.append(["Handed over by", giver or "nobody (no one was on call)"])
    payload: dict[str, object] = {"title": title, "text": text, "fields": fields}
    if public_url:
        payload["url"] = f"{public_url.rstrip('/')}/api/v1/schedules/{schedule.key}"
    return payload


def _next_handoff(schedule: models.Schedule, at: datetime) -> datetime | None:
    """When the shift that starts at `at` ends: the schedule's next hand-off, if within the horizon."""
    later = domain.handoffs(schedules.to_domain(schedule), at + _TICK, at + schedules.UNTIL_HORIZON)
    return later[0].at if later else None


def _when(instant: datetime, zone: ZoneInfo) -> str:
    """'Mon 2026-11-30 09:00 CET (08:00 UTC)': the reader's wall clock, and UTC to compare with others."""
    utc = instant.astimezone(UTC)
    if zone.key == "UTC":
        return f"{_DAY_NAMES[utc.weekday()]} {utc:%Y-%m-%d %H:%M} UTC"
    local = instant.astimezone(zone)
    same_day = local.date() == utc.date()
    in_utc = f"{utc:%H:%M}" if same_day else f"{_DAY_NAMES[utc.weekday()]} {utc:%Y-%m-%d %H:%M}"
    return f"{_DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {local:%Z} ({in_utc} UTC)"


def _name(email: str, people: dict[str, models.User]) -> str:
    user = people.get(email.lower())
    return f"{user.name} ({user.email})" if user is not None else email


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # A user's zone is checked when it is set; a zone since dropped from tzdata still gets the message.
        return ZoneInfo("UTC")
