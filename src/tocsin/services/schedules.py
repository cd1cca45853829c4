"""On-call schedules: layers and overrides as rows, and who is on call as the domain computes it.

Every rule of rotation, restriction and override lives in `tocsin.domain.schedules`;
this module validates input through it (so a bad schedule is refused with the
domain's own words, naming the field) and maps rows to it and back. Participants
are user e-mails, which are also the domain's participant keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tocsin.domain import naming
from tocsin.domain import schedules as domain
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import audit
from tocsin.services.actor import Actor
from tocsin.services.directory import check_key
from tocsin.storage import models
from tocsin.storage.repositories import paging as repo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
ROTATION_KINDS = tuple(kind.value for kind in domain.RotationKind)
# How far `final` may look: a year of hourly shifts is 8,760 rows, still one quick answer.
MAX_RANGE = timedelta(days=366)
# How far ahead "on call until" is looked for; a longer stretch is reported without an end.
UNTIL_HORIZON = timedelta(days=90)


@dataclass(frozen=True)
class RestrictionSpec:
    days: Sequence[str]  # "mon" … "sun"
    start: str  # "HH:MM"
    end: str  # "HH:MM"; "24:00" (or "00:00") is the midnight that ends the day


@dataclass(frozen=True)
class LayerSpec:
    """`start` naive: a wall-clock time in the layer's zone; aware: converted to that zone's wall clock."""

    name: str
    participants: Sequence[str]
    start: datetime
    kind: str = domain.RotationKind.WEEKLY.value
    every: int = 1
    time_zone: str | None = None  # the schedule's when left out
    restrictions: Sequence[RestrictionSpec] = ()
    end: datetime | None = None


@dataclass(frozen=True)
class CurrentShift:
    """Who a schedule has on call at an instant, and until when (None: beyond the look-ahead)."""

    schedule: models.Schedule
    on_call: domain.OnCall | None
    until: datetime | None


# ---- reading ---------------------------------------------------------------------------------


def get_schedule(session: Session, key: str) -> models.Schedule:
    schedule = repo.schedule_by_key(session, key)
    if schedule is None:
        raise NotFound(f"no schedule {key!r}", field="schedule")
    return schedule


def list_schedules(session: Session) -> Sequence[models.Schedule]:
    return repo.list_schedules(session)


def to_domain(schedule: models.Schedule) -> domain.Schedule:
    return domain.Schedule(
        name=schedule.key,
        time_zone=schedule.time_zone,
        layers=tuple(_layer_to_domain(layer) for layer in schedule.layers),
        overrides=tuple(domain.Override(o.user.email, o.starts_at, o.ends_at) for o in schedule.overrides),
    )


def _layer_to_domain(layer: models.ScheduleLayer) -> domain.Layer:
    # The stored start is naive and in the layer's zone: the domain reads it as a wall-clock time.
    start = datetime.fromisoformat(layer.start).replace(tzinfo=ZoneInfo(layer.time_zone))
    return domain.Layer(
        name=layer.name,
        participants=tuple(layer.participants),
        start=start,
        time_zone=layer.time_zone,
        kind=domain.RotationKind(layer.kind),
        every=layer.every,
        restrictions=tuple(_restriction(r["days"], r["start"], r["end"]) for r in layer.restrictions),
        end=layer.end_at,
    )


def who_is_on_call(session: Session, schedule_key: str, at: datetime) -> domain.OnCall | None:
    return domain.on_call_at(to_domain(get_schedule(session, schedule_key)), _aware(at, "at"))


def current_shift(schedule: models.Schedule, at: datetime) -> CurrentShift:
    at = _aware(at, "at")
    horizon = at + UNTIL_HORIZON
    shifts = domain.final_schedule(to_domain(schedule), at, horizon)
    first = shifts[0] if shifts and shifts[0].start == at.astimezone(UTC) else None
    if first is None:
        return CurrentShift(schedule, None, None)
    return CurrentShift(schedule, first.on_call, first.end if first.end < horizon else None)


def on_call_everywhere(session: Session, at: datetime) -> list[CurrentShift]:
    at = _aware(at, "at")
    return [current_shift(schedule, at) for schedule in repo.list_schedules(session)]


def final(
    session: Session, schedule_key: str, start: datetime, end: datetime
) -> tuple[list[domain.Shift], list[domain.Gap]]:
    """The final schedule of [start, end): covered shifts and the gaps between them."""
    schedule = to_domain(get_schedule(session, schedule_key))
    low, high = _checked_range(start, end)
    return domain.final_schedule(schedule, low, high), domain.gaps(schedule, low, high)


def gaps(session: Session, schedule_key: str, start: datetime, end: datetime) -> list[domain.Gap]:
    low, high = _checked_range(start, end)
    return domain.gaps(to_domain(get_schedule(session, schedule_key)), low, high)


def _checked_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = _aware(start, "start"), _aware(end, "end")
    if end <= start:
        raise ValidationFailed(f"end {end.isoformat()} is not after start {start.isoformat()}", field="end")
    if end - start > MAX_RANGE:
        raise ValidationFailed(f"a range can span at most {MAX_RANGE.days} days", field="end")
    return start, end


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(f"{value.isoformat()} has no time zone; add one, e.g. Z or +01:00", field=field)
    return value


# ---- changing --------------------------------------------------------------------------------


def create_schedule(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    key: str,
    name: str = "",
    time_zone: str = "UTC",
    layers: Sequence[LayerSpec] = (),
    managed: bool = False,
) -> models.Schedule:
    check_key(key, "key")
    if repo.schedule_by_key(session, key) is not None:
        raise Conflict(f"a schedule {key!r} exists", field="key")
    _check_zone(time_zone, "time_zone")
    schedule = models.Schedule(key=key, name=name or key, time_zone=time_zone, managed=managed, created_at=now)
    schedule.layers = _layers(session, key, time_zone, layers)
    session.add(schedule)
    audit.record(session, actor, now, "create", "schedule", key, {"layers": [layer.name for layer in layers]})
    session.flush()
    return schedule


def update_schedule(
    session: Session,
    actor: Actor,
    now: datetime,
    key: str,
    *,
    name: str = "",
    time_zone: str = "UTC",
    layers: Sequence[LayerSpec] = (),
) -> models.Schedule:
    """Replaces the name, zone and layers; overrides stay, they are about people, not the rotation."""
    schedule = get_schedule(session, key)
    _check_zone(time_zone, "time_zone")
    new_layers = _layers(session, key, time_zone, layers)
    schedule.name = name or key
    schedule.time_zone = time_zone
    schedule.layers = new_layers
    audit.record(session, actor, now, "update", "schedule", key, {"layers": [layer.name for layer in layers]})
    session.flush()
    return schedule


def delete_schedule(session: Session, actor: Actor, now: datetime, key: str) -> None:
    schedule = get_schedule(session, key)
    users = [
        policy.key
        for policy in repo.list_policies(session)
        if any(t.get("kind") == "schedule" and t.get("key") == key for level in policy.levels for t in level.targets)
    ]
    if users:
        # Deleting it would leave a level that pages nobody, found out at 3 a.m.
        raise Conflict(f"escalation policies {', '.join(users)} page schedule {key!r}; change them first", field="key")
    session.delete(schedule)
    audit.record(session, actor, now, "delete", "schedule", key)
    session.flush()


def add_override(
    session: Session, actor: Actor, now: datetime, schedule_key: str, *, user: str, start: datetime, end: datetime
) -> models.ScheduleOverride:
    schedule = get_schedule(session, schedule_key)
    found = repo.users_by_emails(session, [user]).get(user.lower())
    if found is None:
        raise ValidationFailed(f"unknown user {user!r}", field="user")
    try:
        domain.Override(found.email, start, end)
    except ValueError as exc:
        raise _invalid(exc, "override", ("user", "start", "end"), "") from None
    override = models.ScheduleOverride(user=found, starts_at=start, ends_at=end, created_at=now, created_by=actor.name)
    schedule.overrides.append(override)
    detail = {"user": found.email, "start": start.astimezone(UTC).isoformat(), "end": end.astimezone(UTC).isoformat()}
    audit.record(session, actor, now, "add_override", "schedule", schedule_key, detail)
    session.flush()
    return override


def remove_override(session: Session, actor: Actor, now: datetime, schedule_key: str, override_id: int) -> None:
    schedule = get_schedule(session, schedule_key)
    override = repo.override_by_id(session, schedule.id, override_id)
    if override is None:
        raise NotFound(f"schedule {schedule_key!r} has no override {override_id}", field="override")
    schedule.overrides.remove(override)
    audit.record(session, actor, now, "remove_override", "schedule", schedule_key, {"override": override_id})
    session.flush()


# ---- validation through the domain -----------------------------------------------------------


def _check_zone(value: str, field: str) -> None:
    problem = naming.time_zone_problem(value)
    if problem:
        raise ValidationFailed(problem, field=field)


def _layers(session: Session, key: str, time_zone: str, specs: Sequence[LayerSpec]) -> list[models.ScheduleLayer]:
    users = repo.users_by_emails(session, [email for spec in specs for email in spec.participants])
    rows: list[models.ScheduleLayer] = []
    built: list[domain.Layer] = []
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        where = f"layers[{i}]."
        if not spec.name.strip():
            raise ValidationFailed("a layer needs a name", field=f"{where}name")
        if spec.name in seen:
            raise ValidationFailed(f"two layers are named {spec.name!r}", field=f"{where}name")
        seen.add(spec.name)
        zone = spec.time_zone or time_zone
        _check_zone(zone, f"{where}time_zone")
        if spec.kind not in ROTATION_KINDS:
            raise ValidationFailed(f"{spec.kind!r} is not one of {', '.join(ROTATION_KINDS)}", field=f"{where}kind")
        unknown = [email for email in spec.participants if email.lower() not in users]
        if unknown:
            raise ValidationFailed(f"unknown users {', '.join(unknown)}", field=f"{where}participants")
        participants = [users[email.lower()].email for email in spec.participants]
        restrictions = [_restriction_spec(r, f"{where}restrictions[{j}].") for j, r in enumerate(spec.restrictions)]
        wall = _wall_clock(spec.start, ZoneInfo(zone))
        try:
            layer = domain.Layer(
                name=spec.name,
                participants=tuple(participants),
                start=wall.replace(tzinfo=ZoneInfo(zone)),
                time_zone=zone,
                kind=domain.RotationKind(spec.kind),
                every=spec.every,
                restrictions=tuple(restrictions),
                end=spec.end,
            )
        except ValueError as exc:
            fields = ("participants", "time_zone", "start", "kind", "every", "end")
            raise _invalid(exc, f"layer {spec.name!r}", fields, where) from None
        built.append(layer)
        rows.append(
            models.ScheduleLayer(
                position=i,
                name=spec.name,
                kind=spec.kind,
                every=spec.every,
                start=wall.isoformat(),
                time_zone=zone,
                participants=participants,
                restrictions=[{"days": list(r.days), "start": r.start, "end": r.end} for r in spec.restrictions],
                end_at=spec.end,
            )
        )
    try:
        domain.Schedule(name=key, time_zone=time_zone, layers=tuple(built))
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="layers") from None
    return rows


def _wall_clock(start: datetime, zone: ZoneInfo) -> datetime:
    # Stored naive: the schedule keeps "Monday 09:00 in Berlin", not an instant that DST would move.
    if start.tzinfo is None:
        return start.replace(fold=0)
    return start.astimezone(zone).replace(tzinfo=None, fold=0)


def _restriction_spec(spec: RestrictionSpec, where: str) -> domain.Restriction:
    try:
        return _restriction(spec.days, spec.start, spec.end, where)
    except ValueError as exc:
        raise _invalid(exc, "restriction", ("days", "start", "end"), where) from None


def _restriction(days: Sequence[str], start: str, end: str, where: str = "") -> domain.Restriction:
    unknown = [day for day in days if day not in DAYS]
    if unknown:
        raise ValidationFailed(f"{unknown} are not weekdays; use {', '.join(DAYS)}", field=f"{where}days")
    return domain.Restriction(
        days=frozenset(domain.Weekday(DAYS.index(day)) for day in days),
        start=parse_clock(start, f"{where}start"),
        end=parse_clock(end, f"{where}end", end_of_day=True),
    )


def parse_clock(value: str, field: str, *, end_of_day: bool = False) -> time:
    """ "HH:MM" as a wall-clock time; "24:00" only where the end of the day makes sense."""
    if end_of_day and value == "24:00":
        return domain.MIDNIGHT
    hours, sep, minutes = value.partition(":")
    well_formed = sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()
    if well_formed and int(hours) < 24 and int(minutes) < 60:
        return time(int(hours), int(minutes))
    raise ValidationFailed(f"{value!r} is not a time of day; use HH:MM, e.g. 09:00", field=field)


def _invalid(exc: ValueError, prefix: str, fields: Sequence[str], where: str) -> ValidationFailed:
    # The domain names the offending value at the start of its message ("layer 'x' every: …").
    message = str(exc)
    for name in fields:
        if message.startswith(f"{prefix} {name}:"):
            return ValidationFailed(message, field=f"{where}{name}")
    return ValidationFailed(message, field=where.rstrip(".") or None)
