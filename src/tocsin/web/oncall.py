"""The on-call pages: schedules (who is on call now and next, a two-week timeline, taking a
shift, overrides) and escalation policies (read-only: they are edited as config or through
the API).

All the schedule maths is the domain's (domain.schedules through services.schedules);
this module only lays its answers out on a time axis in the reader's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.domain import schedules as domain
from tocsin.errors import ValidationFailed
from tocsin.services import policies as policy_service
from tocsin.services import schedules as schedule_service
from tocsin.storage import models
from tocsin.storage.repositories import oncall_views as views
from tocsin.web.auth import Responder, Viewer, WebUser, mark_web
from tocsin.web.listing import PAGE_SIZE, offset_of, page
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

TIMELINE_DAYS = 14
# Colours for people on the timeline (app.css .who-0 …); a person keeps theirs across tracks.
PALETTE_SIZE = 8


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


# ---- on call now and next --------------------------------------------------------------------


@dataclass(frozen=True)
class NowAndNext:
    schedule: models.Schedule
    now: domain.Shift | None  # None: nobody on call now
    until: datetime | None  # when `now`'s person hands off; None: not within the look-ahead
    next: domain.Shift | None  # the next person's shift within the look-ahead


def now_and_next(schedule: models.Schedule, now: datetime, ahead: timedelta = timedelta(days=28)) -> NowAndNext:
    shifts = domain.final_schedule(schedule_service.to_domain(schedule), now, now + ahead)
    current = shifts[0] if shifts and shifts[0].start <= now.astimezone(UTC) else None
    until = current.end if current else None
    following = None
    for shift in shifts[1:] if current else shifts:
        # An override followed by the same person's own shift is one stretch on call.
        if current is not None and shift.user == current.user and shift.start == until:
            until = shift.end
            continue
        following = shift
        break
    if until is not None and until >= (now + ahead).astimezone(UTC):
        until = None
    return NowAndNext(schedule, current, until, following)


# ---- the timeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """A block on a track: a shift, an override or a gap, placed in percent of the range."""

    start: datetime
    end: datetime
    kind: str  # shift / override / gap
    user: str | None
    label: str
    left: float
    width: float
    color: int


@dataclass(frozen=True)
class Track:
    name: str
    note: str
    bars: list[Bar]


@dataclass(frozen=True)
class Tick:
    left: float
    label: str


@dataclass
class Timeline:
    start: datetime
    end: datetime
    ticks: list[Tick]
    tracks: list[Track]
    final: Track
    # The final schedule as rows (shifts and gaps in order) for the table under the picture.
    rows: list[Bar] = field(default_factory=list)


def timeline_range(now: datetime, time_zone: str, days: int = TIMELINE_DAYS) -> tuple[datetime, datetime]:
    """From the start of the reader's today, `days` local days (DST-aware)."""
    zone = _zone(time_zone)
    today = now.astimezone(zone).date()
    start = datetime(today.year, today.month, today.day, tzinfo=zone)
    end_day = today + timedelta(days=days)
    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def build_timeline(
    schedule: models.Schedule, names: dict[str, str], start: datetime, end: datetime, time_zone: str
) -> Timeline:
    model = schedule_service.to_domain(schedule)
    width_s = (end - start).total_seconds()
    colors: dict[str, int] = {}
    for layer in model.layers:
        for user in layer.participants:
            colors.setdefault(user, len(colors) % PALETTE_SIZE)
    for override in model.overrides:
        colors.setdefault(override.user, len(colors) % PALETTE_SIZE)

    def bar(s: datetime, e: datetime, kind: str, user: str | None) -> Bar:
        s, e = max(s, start), min(e, end)
        left = (s - start).total_seconds() / width_s * 100
        width = (e - s).total_seconds() / width_s * 100
        label = "Nobody on call" if user is None else names.get(user, user)
        return Bar(s, e, kind, user, label, round(left, 3), round(width, 3), colors.get(user or "", 0))

    tracks = []
    for layer in model.layers:
        alone = domain.Schedule(name=model.name, time_zone=model.time_zone, layers=(layer,))
        shifts = domain.final_schedule(alone, start, end)
        tracks.append(Track(layer.name, _describe_layer(layer), [bar(s.start, s.end, "shift", s.user) for s in shifts]))
    overrides = [
        bar(o.start.astimezone(UTC), o.end.astimezone(UTC), "override", o.user)
        for o in model.overrides
        if o.end > start and o.start < end
    ]
    tracks.append(Track("Overrides", "on top of every layer", sorted(overrides, key=lambda b: b.start)))
    spans: list[tuple[datetime, datetime, str, str | None]] = [
        (s.start, s.end, "override" if s.source.kind == domain.SourceKind.OVERRIDE else "shift", s.user)
        for s in domain.final_schedule(model, start, end)
    ]
    spans += [(g.start, g.end, "gap", None) for g in domain.gaps(model, start, end)]
    spans.sort(key=lambda piece: piece[0])
    # One person on call by two layers back to back is one stretch to take, not two.
    merged: list[tuple[datetime, datetime, str, str | None]] = []
    for piece in spans:
        if merged and merged[-1][1] == piece[0] and merged[-1][2:] == piece[2:]:
            merged[-1] = (merged[-1][0], piece[1], piece[2], piece[3])
        else:
            merged.append(piece)
    final_bars = [bar(*piece) for piece in merged]
    zone = _zone(time_zone)
    ticks = []
    day = start
    while day < end:
        local = day.astimezone(zone)
        ticks.append(Tick(round((day - start).total_seconds() / width_s * 100, 3), local.strftime("%a %d")))
        following = local.date() + timedelta(days=1)
        day = datetime(following.year, following.month, following.day, tzinfo=zone).astimezone(UTC)
    final = Track("Final", "who is paged", final_bars)
    return Timeline(start, end, ticks, tracks, final, final_bars)


def _describe_layer(layer: domain.Layer) -> str:
    unit = {"hourly": "hour", "daily": "day", "weekly": "week"}[layer.kind.value]
    every = f"every {layer.every} {unit}s" if layer.every > 1 else f"every {unit}"
    hand_off = layer.start.strftime("%a %H:%M" if layer.kind == domain.RotationKind.WEEKLY else "%H:%M")
    text = f"{layer.kind.value}, hand-off {every} at {hand_off} ({layer.time_zone})"
    if layer.restrictions:
        text += ", restricted"
    return text


# ---- pages -----------------------------------------------------------------------------------


@router.get("/schedules")
def schedules_page(
    request: Request,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    now = clock.now()
    at = offset_of(offset)
    listing = page(request, views.schedules(session, PAGE_SIZE + 1, at), at)
    rows = [now_and_next(schedule, now) for schedule in listing.rows]
    names = views.names_by_email(session, {s.user for r in rows for s in (r.now, r.next) if s is not None})
    context = {"user": user, "nav_active": "/schedules", "rows": rows, "names": names, "listing": listing}
    return templates.TemplateResponse(request, "oncall/schedules.html", context)


def _schedule_context(
    request: Request, user: WebUser, session: DbSession, now: datetime, key: str
) -> dict[str, object]:
    schedule = schedule_service.get_schedule(session, key)
    start, end = timeline_range(now, user.time_zone)
    emails = {p for layer in schedule.layers for p in layer.participants} | {o.user.email for o in schedule.overrides}
    names = views.names_by_email(session, emails)
    upcoming = sorted((o for o in schedule.overrides if o.ends_at > now), key=lambda o: (o.starts_at, o.id))
    return {
        "user": user,
        "nav_active": "/schedules",
        "schedule": schedule,
        "current": now_and_next(schedule, now),
        "timeline": build_timeline(schedule, names, start, end, user.time_zone),
        "names": names,
        "overrides": upcoming,
        "now": now,
        "error": None,
        "people": views.active_people(session) if user.can_respond else [],
        "form": {"user": user.email, "start": "", "end": ""},
        "form_errors": {},
    }


@router.get("/schedules/{key}")
def schedule_page(request: Request, key: str, user: Viewer, session: DbSession, clock: CurrentClock) -> Response:
    context = _schedule_context(request, user, session, clock.now(), key)
    return templates.TemplateResponse(request, "oncall/schedule.html", context)


def _instant(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{value!r} is not a date and time", field=name) from None
    if parsed.tzinfo is None:
        raise ValidationFailed(f"{value!r} has no time zone", field=name)
    return parsed


@router.post("/schedules/{key}/take")
def take_shift(
    request: Request,
    key: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    start: Annotated[str, Form()],
    end: Annotated[str, Form()],
) -> Response:
    """An override for the reader over the span; a shift under way is taken from now on."""
    now = clock.now()
    try:
        low, high = max(_instant(start, "start"), now), _instant(end, "end")
        if high <= now:
            raise ValidationFailed("that shift is over", field="end")
        schedule_service.add_override(session, user.actor, now, key, user=user.email, start=low, end=high)
    except ValidationFailed as exc:
        session.rollback()
        context = _schedule_context(request, user, session, now, key)
        context["error"] = exc.message
        return templates.TemplateResponse(request, "oncall/schedule.html", context, status_code=422)
    session.commit()
    return RedirectResponse(f"/schedules/{key}", status_code=303)


def _local(value: str, name: str, time_zone: str) -> datetime:
    """A datetime-local field's value, read in the reader's time zone."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("enter a date and time", field=name) from None
    if parsed.tzinfo is None:
        parsed = domain.resolve_local(parsed, _zone(time_zone))
    return parsed


@router.post("/schedules/{key}/overrides")
def add_override(
    request: Request,
    key: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    who: Annotated[str, Form(alias="user", max_length=320)] = "",
    start: Annotated[str, Form(max_length=40)] = "",
    end: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Someone covers a span, whoever the layers say (e.g. a swap arranged in the team)."""
    now = clock.now()
    try:
        low = _local(start, "start", user.time_zone)
        high = _local(end, "end", user.time_zone)
        if high <= now:
            raise ValidationFailed("this span is over; an override is for now or later", field="end")
        schedule_service.add_override(session, user.actor, now, key, user=who, start=low, end=high)
    except ValidationFailed as exc:
        session.rollback()
        context = _schedule_context(request, user, session, now, key)
        context["form"] = {"user": who, "start": start, "end": end}
        context["form_errors"] = {exc.field or "start": exc.message}
        return templates.TemplateResponse(request, "oncall/schedule.html", context, status_code=422)
    session.commit()
    return RedirectResponse(f"/schedules/{key}", status_code=303)


@router.post("/schedules/{key}/overrides/{override_id}/delete")
def delete_override(key: str, override_id: int, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    schedule_service.remove_override(session, user.actor, clock.now(), key, override_id)
    session.commit()
    return RedirectResponse(f"/schedules/{key}", status_code=303)


# ---- escalation policies ---------------------------------------------------------------------


@dataclass(frozen=True)
class TargetView:
    kind: str
    key: str
    label: str
    href: str | None
    detail: str  # for a schedule, who is on call now; for a team, its members


def _targets(
    session: DbSession, policy_rows: list[models.EscalationPolicy], now: datetime
) -> dict[tuple[str, str], TargetView]:
    wanted = [t for p in policy_rows for level in p.levels for t in level.targets]
    users = views.users_by_emails(session, [t["key"] for t in wanted if t["kind"] == "user"])
    schedules = views.schedules_by_keys(session, [t["key"] for t in wanted if t["kind"] == "schedule"])
    teams = views.teams_by_keys(session, [t["key"] for t in wanted if t["kind"] == "team"])
    on_call = {key: now_and_next(s, now) for key, s in schedules.items()}
    names = views.names_by_email(session, {r.now.user for r in on_call.values() if r.now is not None})
    found: dict[tuple[str, str], TargetView] = {}
    for target in wanted:
        kind, key = target["kind"], target["key"]
        if kind == "user":
            person = users.get(key.lower())
            found[(kind, key)] = TargetView(kind, key, person.name if person else key, None, key)
        elif kind == "schedule":
            schedule = schedules.get(key)
            current = on_call.get(key)
            who = current.now.user if current and current.now else None
            detail = f"on call now: {names.get(who, who)}" if who else "nobody on call now"
            found[(kind, key)] = TargetView(kind, key, schedule.name if schedule else key, f"/schedules/{key}", detail)
        else:
            team = teams.get(key)
            members = ", ".join(m.user.name for m in team.members) if team else ""
            found[(kind, key)] = TargetView(kind, key, team.name if team else key, None, members)
    return found


@router.get("/policies")
def policies_page(
    request: Request,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    at = offset_of(offset)
    listing = page(request, views.policies(session, PAGE_SIZE + 1, at), at)
    rows = list(listing.rows)
    context = {
        "user": user,
        "nav_active": "/policies",
        "listing": listing,
        "policies": rows,
        "services": views.services_by_policy(session, [p.id for p in rows]),
        "targets": _targets(session, rows, clock.now()),
    }
    return templates.TemplateResponse(request, "oncall/policies.html", context)


@router.get("/policies/{key}")
def policy_page(request: Request, key: str, user: Viewer, session: DbSession, clock: CurrentClock) -> Response:
    policy = policy_service.get_policy(session, key)
    variants = sorted(policy.variants.items())
    context = {
        "user": user,
        "nav_active": "/policies",
        "policy": policy,
        "variants": variants,
        "round": sum(level.delay_s for level in policy.levels),
        "services": views.services_by_policy(session, [policy.id]).get(policy.id, []),
        "targets": _targets(session, [policy], clock.now()),
    }
    return templates.TemplateResponse(request, "oncall/policy.html", context)
