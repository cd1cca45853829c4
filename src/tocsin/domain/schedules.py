"""On-call schedules: who is on call at an instant, and the final schedule over a range.

A *schedule* stacks *layers*; each layer is a rotation of participants with a
hand-off rhythm, optionally limited by weekly *restrictions* ("Mon-Fri
09:00-17:00"). Overrides sit on top of everything. This is the PagerDuty model:

- a later layer wins wherever it has someone; earlier layers fill the rest;
- outside its restrictions, before its start and after its end a layer has nobody;
- an override wins over every layer; where overrides overlap, the later one wins;
- primary and backup are two schedules (or two escalation targets), not a flag.

`on_call_at`, `final_schedule`, `gaps` and `handoffs` all come from one segment
builder, so the person a page goes to at T is the person the rendered schedule
shows at T.

Wall-clock rules
----------------
- DAILY and WEEKLY layers hand off at the same local wall-clock time (in the
  layer's time zone) every N days or weeks. A shift that spans a DST change is
  therefore 23 or 25 hours long (a weekly one 167 or 169 hours).
- HOURLY layers hand off every N *elapsed* hours, so across a DST change their
  local hand-off time moves by the DST offset.
- A wall-clock time that does not exist (the spring-forward gap) means the first
  valid instant after it: 02:30 on 2027-03-28 in Europe/Berlin is 03:00 CEST.
- A wall-clock time that happens twice (the fall-back fold) means the first
  occurrence (fold=0): 02:30 on 2027-10-31 in Europe/Berlin is 02:30 CEST.
- The same two rules place restriction windows: a window "02:00-03:00" is empty
  on the spring-forward night and one hour long on the fall-back night.
- A layer's `start` gives the date and wall-clock time of the first hand-off in
  the layer's zone; an aware `start` in another zone is converted first.

Every datetime in or out is timezone-aware; results are in UTC. Invalid input
raises `ValueError` naming the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import IntEnum, StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class RotationKind(StrEnum):
    DAILY = "daily"  # every N days at the wall-clock hand-off time
    WEEKLY = "weekly"  # every N weeks at the wall-clock hand-off time
    HOURLY = "hourly"  # every N elapsed hours ("12-hour shifts")


class Weekday(IntEnum):
    # The values of `date.weekday()`.
    MON = 0
    TUE = 1
    WED = 2
    THU = 3
    FRI = 4
    SAT = 5
    SUN = 6


WORKDAYS = frozenset({Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI})
EVERY_DAY = frozenset(Weekday)
MIDNIGHT = time(0)  # as a restriction's end: the midnight that ends the day ("24:00")

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # not %a: that follows the locale
_ONE_DAY = timedelta(days=1)
# The smallest step a datetime can take; "just before T" is T - _TICK.
_TICK = timedelta(microseconds=1)


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError and OSError: keys like "" or "America" that are not zone files at all.
        raise ValueError(f"{where}: unknown time zone {name!r}; use an IANA name like 'Europe/Berlin'") from None


def _require_aware(value: datetime, where: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{where}: {value.isoformat()} has no time zone; pass a timezone-aware datetime")


def resolve_local(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall-clock time in `zone`, by the module's gap and fold rules."""
    if wall.tzinfo is not None:
        raise ValueError(f"wall: {wall.isoformat()} must be a naive wall-clock time")
    wall = wall.replace(fold=0)  # in a fold, the first occurrence
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # `wall` is in a spring-forward gap. Per PEP 495, fold=0 reads it with the offset from before
    # the transition, which lands after the transition, and fold=1 with the offset after it, which
    # lands before; the transition itself is the first instant whose wall clock reaches `wall`.
    # tzdata transitions fall on whole seconds, so bisect over seconds.
    low = math.floor(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = math.ceil(instant.timestamp())
    while low < high:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle + 1
    return datetime.fromtimestamp(low, UTC)


@dataclass(frozen=True)
class Restriction:
    """A weekly window in the layer's zone: on each of `days`, from `start` to `end` (wall clock).

    `end` must be after `start`; `MIDNIGHT` as `end` means the end of the day. A window across
    midnight is two restrictions (22:00-24:00 Mon-Fri and 00:00-06:00 Tue-Sat).
    """

    days: frozenset[Weekday]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.days:
            raise ValueError("restriction days: name at least one weekday")
        # Config input may hand over plain ints; Weekday(7) says what is wrong with it.
        object.__setattr__(self, "days", frozenset(Weekday(day) for day in self.days))
        for value, where in ((self.start, "start"), (self.end, "end")):
            if value.tzinfo is not None:
                raise ValueError(f"restriction {where}: a wall-clock time takes no time zone; the layer's applies")
        if self.end != MIDNIGHT and self.end <= self.start:
            raise ValueError(
                f"restriction end: {self.end.isoformat()} is not after start {self.start.isoformat()};"
                " split a window across midnight into two"
            )


@dataclass(frozen=True)
class Layer:
    """A rotation: `participants` take turns, the first from `start` on, each for one shift."""

    name: str
    participants: tuple[str, ...]
    start: datetime
    time_zone: str
    kind: RotationKind = RotationKind.WEEKLY
    every: int = 1  # shift length in days, weeks or hours, by `kind`
    restrictions: tuple[Restriction, ...] = ()
    end: datetime | None = None

    def __post_init__(self) -> None:
        where = f"layer {self.name!r}"
        if not self.name.strip():
            raise ValueError("layer name: must not be empty")
        if not self.participants:
            raise ValueError(f"{where} participants: name at least one user")
        if any(not isinstance(user, str) or not user for user in self.participants):
            raise ValueError(f"{where} participants: each participant must be a non-empty user key")
        zone = _zone(self.time_zone, f"{where} time_zone")
        _require_aware(self.start, f"{where} start")
        try:
            RotationKind(self.kind)
        except ValueError:
            raise ValueError(f"{where} kind: {self.kind!r} is not one of daily, weekly, hourly") from None
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(
                f"{where} every: the shift length must be a whole number of at least 1, not {self.every!r}"
            )
        if self.end is not None:
            _require_aware(self.end, f"{where} end")
            if self.end <= _first_handoff(self.start, zone):
                raise ValueError(f"{where} end: {self.end.isoformat()} is not after the layer's start")


@dataclass(frozen=True)
class Override:
    """`user` covers from `start` to `end`, whoever the layers say."""

    user: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not self.user:
            raise ValueError("override user: must not be empty")
        _require_aware(self.start, "override start")
        _require_aware(self.end, "override end")
        if self.end <= self.start:
            raise ValueError(f"override end: {self.end.isoformat()} is not after start {self.start.isoformat()}")


@dataclass(frozen=True)
class Schedule:
    """Layers bottom to top (a later layer wins where it has someone), and overrides on top."""

    name: str
    time_zone: str  # how gaps are described; each layer keeps its own zone for its wall clock
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        _zone(self.time_zone, f"schedule {self.name!r} time_zone")
        seen: set[str] = set()
        for layer in self.layers:
            if layer.name in seen:
                raise ValueError(f"schedule {self.name!r} layers: two layers are named {layer.name!r}")
            seen.add(layer.name)


class SourceKind(StrEnum):
    LAYER = "layer"
    OVERRIDE = "override"


@dataclass(frozen=True)
class Source:
    """Why someone is on call: `index` is the position in `Schedule.layers` or `Schedule.overrides`."""

    kind: SourceKind
    index: int
    name: str  # the layer's name, or "override"


@dataclass(frozen=True)
class OnCall:
    user: str
    source: Source


@dataclass(frozen=True)
class Shift:
    """A stretch of the final schedule: `user` is on call from `start` (inclusive) to `end` (exclusive)."""

    start: datetime
    end: datetime
    user: str
    source: Source

    @property
    def on_call(self) -> OnCall:
        return OnCall(self.user, self.source)


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime
    description: str  # "nobody on call Tue 2027-03-30 02:00-08:00 (Europe/Berlin)"


@dataclass(frozen=True)
class Handoff:
    """At `at` the on-call person changes; `None` on either side is a gap."""

    at: datetime
    off: OnCall | None
    on: OnCall | None


def on_call_at(schedule: Schedule, instant: datetime) -> OnCall | None:
    _require_aware(instant, "instant")
    at = instant.astimezone(UTC)
    # The one-tick range runs the same segment builder as `final_schedule`, so they cannot disagree.
    [(_, _, who)] = _segments(schedule, at, at + _TICK)
    return who


def final_schedule(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The covered stretches of [start, end), in order; what is missing between them is in `gaps`.

    Consecutive stretches of the same user from the same source are one shift.
    """
    low, high = _range(start, end)
    return [Shift(s, e, who.user, who.source) for s, e, who in _segments(schedule, low, high) if who is not None]


def gaps(schedule: Schedule, start: datetime, end: datetime) -> list[Gap]:
    low, high = _range(start, end)
    zone = ZoneInfo(schedule.time_zone)
    return [Gap(s, e, _describe_gap(s, e, zone)) for s, e, who in _segments(schedule, low, high) if who is None]


def handoffs(schedule: Schedule, start: datetime, end: datetime) -> list[Handoff]:
    """The instants in [start, end) at which the on-call person changes.

    A change exactly at `start` is included and one exactly at `end` is not, so consecutive
    windows [a, b), [b, c) report each hand-off once. A change of source alone (the same person
    covering by override after their own shift) is not a hand-off.
    """
    low, high = _range(start, end)
    # Start one tick early so that a change exactly at `start` shows as a segment boundary.
    segments = _segments(schedule, low - _TICK, high)
    return [
        Handoff(at=current[0], off=previous[2], on=current[2])
        for previous, current in pairwise(segments)
        if _user(previous[2]) != _user(current[2])
    ]


# --- the segment builder ------------------------------------------------------------------------

_Span = tuple[datetime, datetime]
_Segment = tuple[datetime, datetime, OnCall | None]


def _range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    _require_aware(start, "start")
    _require_aware(end, "end")
    # Everything internal is UTC: Python compares and subtracts two datetimes that share a tzinfo
    # by their wall clocks, which is wrong across a DST change.
    low, high = start.astimezone(UTC), end.astimezone(UTC)
    if high <= low:
        raise ValueError(f"end: {end.isoformat()} is not after start {start.isoformat()}")
    return low, high


def _user(who: OnCall | None) -> str | None:
    return None if who is None else who.user


def _in_zone(start: datetime, zone: ZoneInfo) -> bool:
    return isinstance(start.tzinfo, ZoneInfo) and start.tzinfo.key == zone.key


def _wall_clock(start: datetime, zone: ZoneInfo) -> datetime:
    # A start given in the layer's own zone is taken at its word, even inside a DST gap, so that
    # "02:30 Europe/Berlin" means 02:30 every day; astimezone would first normalize it to 03:30.
    if _in_zone(start, zone):
        return start.replace(tzinfo=None, fold=0)
    return start.astimezone(zone).replace(tzinfo=None, fold=0)


def _first_handoff(start: datetime, zone: ZoneInfo) -> datetime:
    # A start in the layer's zone is a wall-clock time and follows the gap and fold rules; a start
    # in any other zone is an unambiguous instant and is kept, even in the second pass of a fold.
    if _in_zone(start, zone):
        return resolve_local(_wall_clock(start, zone), zone)
    return start.astimezone(UTC)


class _Rotation:
    """The hand-off instants of one layer: hand-off k starts participant k mod n's shift."""

    def __init__(self, layer: Layer) -> None:
        self.zone = ZoneInfo(layer.time_zone)
        self.anchor = _wall_clock(layer.start, self.zone)
        self.first = _first_handoff(layer.start, self.zone)
        self.by_wall_clock = layer.kind != RotationKind.HOURLY
        if layer.kind == RotationKind.HOURLY:
            self.step = timedelta(hours=layer.every)
        else:
            self.step = timedelta(days=layer.every * (7 if layer.kind == RotationKind.WEEKLY else 1))

    def handoff(self, k: int) -> datetime:
        if k == 0:
            return self.first  # may be an exact instant the wall-clock rules would move; see _first_handoff
        if self.by_wall_clock:
            # Naive datetime arithmetic moves the calendar date and keeps the wall-clock time.
            return resolve_local(self.anchor + k * self.step, self.zone)
        return self.first + k * self.step

    def index_at(self, instant: datetime) -> int:
        """The k with handoff(k) <= instant < handoff(k + 1), for an instant at or after the first."""
        k = (instant - self.first) // self.step  # exact for hours; off by at most one across DST
        while k > 0 and self.handoff(k) > instant:
            k -= 1
        while self.handoff(k + 1) <= instant:
            k += 1
        return k


def _layer_track(layer: Layer, index: int, low: datetime, high: datetime) -> list[_Segment]:
    """Who the layer has on call within [low, high): sorted, disjoint, clipped."""
    rotation = _Rotation(layer)
    begin = max(low, rotation.first)
    finish = high if layer.end is None else min(high, layer.end.astimezone(UTC))
    if begin >= finish:
        return []
    source = Source(SourceKind.LAYER, index, layer.name)
    people = [OnCall(user, source) for user in layer.participants]
    track: list[_Segment] = []
    k = rotation.index_at(begin)
    shift_start = rotation.handoff(k)
    while shift_start < finish:
        shift_end = rotation.handoff(k + 1)
        s, e = max(shift_start, begin), min(shift_end, finish)
        if s < e:  # a hand-off swallowed by a DST gap longer than a shift leaves an empty one
            track.append((s, e, people[k % len(people)]))
        k, shift_start = k + 1, shift_end
    if layer.restrictions:
        track = _intersect(track, _windows(layer.restrictions, rotation.zone, begin, finish))
    return track


def _windows(restrictions: tuple[Restriction, ...], zone: ZoneInfo, low: datetime, high: datetime) -> list[_Span]:
    spans: list[_Span] = []
    # A window lies within one local day, so the days around [low, high) are all that can reach it.
    day = low.astimezone(zone).date() - _ONE_DAY
    last = high.astimezone(zone).date()
    while day <= last:
        for restriction in restrictions:
            if day.weekday() not in restriction.days:
                continue
            opens = resolve_local(datetime.combine(day, restriction.start), zone)
            if restriction.end == MIDNIGHT:
                closes = resolve_local(datetime.combine(day + _ONE_DAY, MIDNIGHT), zone)
            else:
                closes = resolve_local(datetime.combine(day, restriction.end), zone)
            s, e = max(opens, low), min(closes, high)
            if s < e:
                spans.append((s, e))
        day += _ONE_DAY
    return _union(spans)


def _union(spans: list[_Span]) -> list[_Span]:
    merged: list[_Span] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _intersect(track: list[_Segment], windows: list[_Span]) -> list[_Segment]:
    result: list[_Segment] = []
    i = j = 0
    while i < len(track) and j < len(windows):
        (ts, te, who), (ws, we) = track[i], windows[j]
        s, e = max(ts, ws), min(te, we)
        if s < e:
            result.append((s, e, who))
        if te <= we:
            i += 1
        else:
            j += 1
    return result


def _segments(schedule: Schedule, low: datetime, high: datetime) -> list[_Segment]:
    """[low, high) cut into maximal pieces with one answer each (None: nobody), in order."""
    tracks = [_layer_track(layer, i, low, high) for i, layer in enumerate(schedule.layers)]
    starts: dict[datetime, list[int]] = {}
    ends: dict[datetime, list[int]] = {}
    override_calls: list[OnCall] = []
    cuts = {low, high}
    for i, override in enumerate(schedule.overrides):
        override_calls.append(OnCall(override.user, Source(SourceKind.OVERRIDE, i, "override")))
        s, e = max(low, override.start.astimezone(UTC)), min(high, override.end.astimezone(UTC))
        if s < e:
            starts.setdefault(s, []).append(i)
            ends.setdefault(e, []).append(i)
            cuts.update((s, e))
    for track in tracks:
        for s, e, _ in track:
            cuts.update((s, e))

    ordered = sorted(cuts)
    positions = [0] * len(tracks)
    active: set[int] = set()
    segments: list[_Segment] = []
    for s, e in pairwise(ordered):
        active.difference_update(ends.get(s, ()))
        active.update(starts.get(s, ()))
        who: OnCall | None = override_calls[max(active)] if active else None
        for t in reversed(range(len(tracks))):
            track = tracks[t]
            # Each track is sorted and disjoint and the cuts only move forward: advance, never rewind.
            while positions[t] < len(track) and track[positions[t]][1] <= s:
                positions[t] += 1
            if who is None and positions[t] < len(track) and track[positions[t]][0] <= s:
                who = track[positions[t]][2]
        if segments and segments[-1][2] == who:
            segments[-1] = (segments[-1][0], e, who)
        else:
            segments.append((s, e, who))
    return segments


def _describe_gap(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    first, last = start.astimezone(zone), end.astimezone(zone)
    opens = f"{_DAY_NAMES[first.weekday()]} {first:%Y-%m-%d %H:%M}"
    if last.date() == first.date():
        span = f"{opens}-{last:%H:%M}"
    elif last.date() == first.date() + _ONE_DAY and last.time() == MIDNIGHT:
        span = f"{opens}-24:00"
    else:
        span = f"{opens} to {_DAY_NAMES[last.weekday()]} {last:%Y-%m-%d %H:%M}"
    return f"nobody on call {span} ({zone.key})"
