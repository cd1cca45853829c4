"""How one page reaches one person: contact methods, notification rules, quiet hours.

A user's notification rules say which contact method to use how long after a
page starts ("Slack at once, e-mail after 2 min, SMS after 5 min"), for high-
or low-urgency pages or both. `deliveries()` answers, for one page, either
"these methods at these instants" or "this user will not be paged" — held by
quiet hours, or unreachable — in which case the escalation moves on to the
next target and the page is marked with the reason.

Quiet hours are decided once, at the instant the page starts, on the user's
local wall clock. A user in quiet hours gets nothing from this page, and a
user outside them gets every rule, even one whose delay reaches into the
window: half-paging someone would hide the page from the escalation without
reaching anyone. An emergency ignores quiet hours: a page is one when the
incident's severity level is marked emergency or any of the incident's
services is (`emergency()`, the one rule the engine and the simulator share).

A quiet window belongs to the local date it opens on, so "22:00-07:00 on
Mondays" holds Monday 22:00 to Tuesday 07:00. Each night is the half-open
interval of instants from the first moment the local clock reads the start
time to the first moment it reads the end time:

- a wall time skipped by a spring-forward jump opens or closes the window at
  the jump (a window wholly inside the skipped hour does not happen);
- a wall time repeated by a fall-back opens or closes the window at its first
  occurrence, and the window does not reopen when the hour repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum


class ContactKind(StrEnum):
    DISCORD = "discord"
    SLACK = "slack"
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    WEBHOOK = "webhook"
    APPRISE = "apprise"


class Urgency(StrEnum):
    HIGH = "high"
    LOW = "low"


class RuleUrgency(StrEnum):
    HIGH = "high"
    LOW = "low"
    BOTH = "both"


_CONTACT_KINDS = tuple(kind.value for kind in ContactKind)
_RULE_URGENCIES = tuple(urgency.value for urgency in RuleUrgency)
_MENTIONS = (ContactKind.DISCORD, ContactKind.SLACK)


@dataclass(frozen=True)
class ContactMethod:
    """`high_urgency`: able to wake someone (a phone call, an SMS, a push with sound)."""

    key: str  # what notification rules refer to; unique per user
    kind: ContactKind
    address: str  # webhook URL, e-mail address, phone number or Apprise URL
    verified: bool = False
    high_urgency: bool = False
    mention: str | None = None  # Discord or Slack user id to @-mention in the webhook message

    def __post_init__(self) -> None:
        if self.kind not in _CONTACT_KINDS:
            expected = ", ".join(_CONTACT_KINDS)
            raise ValueError(f"kind: unknown contact method kind {self.kind!r}; expected one of {expected}")
        object.__setattr__(self, "kind", ContactKind(self.kind))
        if not self.key.strip():
            raise ValueError("key: a contact method needs a key")
        if not self.address.strip():
            raise ValueError(f"address: a {self.kind} contact method needs an address")
        if self.mention is not None and self.kind not in _MENTIONS:
            raise ValueError(f"mention: only Discord and Slack mention a user, not {self.kind}")


@dataclass(frozen=True)
class NotificationRule:
    contact: str  # a ContactMethod key of the same user
    delay: timedelta = timedelta()  # after the page starts
    urgency: RuleUrgency = RuleUrgency.BOTH

    def __post_init__(self) -> None:
        if self.delay < timedelta():
            raise ValueError(f"delay: must not be negative, not {self.delay}")
        if self.urgency not in _RULE_URGENCIES:
            expected = ", ".join(_RULE_URGENCIES)
            raise ValueError(f"urgency: unknown urgency {self.urgency!r}; expected one of {expected}")
        object.__setattr__(self, "urgency", RuleUrgency(self.urgency))

    def applies_to(self, urgency: Urgency) -> bool:
        return self.urgency == RuleUrgency.BOTH or self.urgency.value == urgency.value


@dataclass(frozen=True)
class QuietHours:
    """A daily local window; `end` before `start` crosses midnight. `weekdays` as in
    `date.weekday()` (Monday is 0), for the day the window opens; None is every day."""

    start: time
    end: time
    weekdays: frozenset[int] | None = None

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if value.tzinfo is not None:
                raise ValueError(f"{name}: a wall-clock time, without a time zone (the user's zone applies)")
        if self.start == self.end:
            # Equal ends could mean "never" or "all day"; neither is what anyone means by quiet hours.
            raise ValueError(f"end: must differ from start ({self.start.isoformat('minutes')})")
        if self.weekdays is not None:
            if not self.weekdays:
                raise ValueError("weekdays: leave out for every day; an empty set would never hold")
            wrong = sorted(day for day in self.weekdays if day not in range(7))
            if wrong:
                raise ValueError(f"weekdays: {wrong} are not weekdays; use 0 (Monday) to 6 (Sunday)")

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def window_at(self, instant: datetime, tz: tzinfo) -> tuple[datetime, datetime] | None:
        """The window (opens, closes), in UTC, that holds `instant`, or None."""
        instant = _utc(instant, "instant")
        local_day = instant.astimezone(tz).date()
        # Only the nights opening on the local day or the day before can still be open.
        for day in (local_day - timedelta(days=1), local_day):
            if self.weekdays is not None and day.weekday() not in self.weekdays:
                continue
            opens = _first_instant_reading(day, self.start, tz)
            closes = _first_instant_reading(day + timedelta(days=1) if self.crosses_midnight else day, self.end, tz)
            if opens <= instant < closes:
                return opens, closes
        return None

    def holds(self, instant: datetime, tz: tzinfo) -> bool:
        return self.window_at(instant, tz) is not None


class Outcome(StrEnum):
    PAGE = "page"
    HELD_BY_QUIET_HOURS = "held_by_quiet_hours"
    UNREACHABLE = "unreachable"  # no rule leads to a usable contact method for this urgency


@dataclass(frozen=True)
class Delivery:
    method: ContactMethod
    due_at: datetime  # UTC


@dataclass(frozen=True)
class Decision:
    """Anything but PAGE means: go to the next target, and mark the page with the outcome."""

    outcome: Outcome
    deliveries: tuple[Delivery, ...] = ()
    held_until: datetime | None = None  # UTC, when quiet hours end
    quiet_hours_ignored: bool = False  # an emergency paged through quiet hours; worth a timeline note
    skipped: tuple[str, ...] = ()  # rules that applied but could not be used, and why


def deliveries(
    rules: Sequence[NotificationRule],
    methods: Sequence[ContactMethod],
    page_at: datetime,
    urgency: Urgency,
    *,
    emergency: bool,
    quiet: QuietHours | None,
    tz: tzinfo,
) -> Decision:
    """What one page to one user turns into; see the module docstring for quiet hours.

    Unverified methods are never paged (a typo in a phone number must not eat
    a page), and a rule naming a method the user does not have is skipped;
    both are reported in `skipped`. Deliveries come in due order, ties in
    rule order.
    """
    page_at = _utc(page_at, "page_at")
    window = quiet.window_at(page_at, tz) if quiet is not None else None
    if window is not None and not emergency:
        return Decision(Outcome.HELD_BY_QUIET_HOURS, held_until=window[1])

    by_key = {method.key: method for method in methods}
    planned: list[Delivery] = []
    skipped: list[str] = []
    for rule in rules:
        if not rule.applies_to(urgency):
            continue
        method = by_key.get(rule.contact)
        if method is None:
            skipped.append(f"no contact method {rule.contact!r}")
        elif not method.verified:
            skipped.append(f"{method.kind} contact method {method.key!r} is not verified")
        else:
            planned.append(Delivery(method, page_at + rule.delay))
    planned.sort(key=lambda delivery: delivery.due_at)  # stable: ties keep rule order
    outcome = Outcome.PAGE if planned else Outcome.UNREACHABLE
    return Decision(outcome, tuple(planned), quiet_hours_ignored=window is not None, skipped=tuple(skipped))


def emergency(severity: str, severity_is_emergency: bool, emergency_services: Sequence[str]) -> str | None:
    """Why pages for an incident ignore quiet hours, or None when they do not.

    `emergency_services` are the keys of the incident's services marked
    emergency. A severity that pages nobody (record only) is not changed by
    this: an emergency decides how a page is delivered, not whether there is one.
    """
    if severity_is_emergency:
        return f"{severity} is an emergency severity"
    if len(emergency_services) == 1:
        return f"service {emergency_services[0]} is an emergency service"
    if emergency_services:
        return f"services {', '.join(sorted(emergency_services))} are emergency services"
    return None


Span = tuple[datetime, datetime]  # [start, end)


@dataclass(frozen=True)
class ReadinessWarning:
    user: str
    on_call_from: datetime  # UTC; the start of the first shift in the horizon, or `now`
    message: str


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def readiness(
    on_call: Sequence[tuple[str, Span]],
    methods: Mapping[str, Sequence[ContactMethod]],
    now: datetime,
    *,
    tz: tzinfo,
    horizon: timedelta = timedelta(hours=24),
) -> list[ReadinessWarning]:
    """Users on call now or within `horizon` who could not be woken: no verified high-urgency method.

    `on_call` comes from the schedules, `methods` is keyed by the same user
    names; times in the messages are shown in `tz`. One warning per user,
    for their first shift, ordered by when it starts.
    """
    now = _utc(now, "now")
    until = now + horizon
    first: dict[str, datetime] = {}
    for user, (start, end) in on_call:
        start, end = _utc(start, "start"), _utc(end, "end")
        if end <= now or start >= until:
            continue
        begins = max(start, now)
        if user not in first or begins < first[user]:
            first[user] = begins
    warnings = []
    for user, begins in first.items():
        if any(method.verified and method.high_urgency for method in methods.get(user, ())):
            continue
        when = "now" if begins == now else f"from {_short(begins, tz)}"
        message = f"{user} is on call {when} and has no verified high-urgency contact method"
        warnings.append(ReadinessWarning(user, begins, message))
    warnings.sort(key=lambda warning: (warning.on_call_from, warning.user))
    return warnings


def _short(instant: datetime, tz: tzinfo) -> str:
    # Not strftime("%a"): the day name must not depend on the server's locale.
    local = instant.astimezone(tz)
    return f"{_DAY_NAMES[local.weekday()]} {local:%H:%M}"


def _first_instant_reading(day: date, wall: time, tz: tzinfo) -> datetime:
    """The first instant (UTC) at which the local clock on `day` reads `wall` or later."""
    naive = datetime.combine(day, wall)
    earlier = naive.replace(tzinfo=tz, fold=0)  # in a repeated hour, fold=0 is the first occurrence
    if earlier.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
        return earlier.astimezone(UTC)
    # `wall` was skipped by a spring-forward jump. By PEP 495, fold=1 reads it with the offset
    # after the jump (an instant before it) and fold=0 with the offset before (an instant after
    # it); the jump lies between, and offsets change on whole seconds.
    low = int(naive.replace(tzinfo=tz, fold=1).timestamp())
    high = int(earlier.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name}: needs a timezone-aware datetime")
    return value.astimezone(UTC)
