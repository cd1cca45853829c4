"""`tocsin escalation simulate`: who would be paged, when and why, before the night comes.

The server runs its real escalation engine against a simulated clock and
throws the result away (`POST /api/v1/escalation/simulate`). Unlike the other
commands, this one shows local times first: the question is about a night in
a place ("2027-03-28 01:30 Europe/Berlin"), so the table is in that place's
zone, with UTC beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import EXIT_CONFIG, Json
from tocsin.cli.remote import AsJson, _fail, _server
from tocsin.domain.schedules import resolve_local

escalation_app = typer.Typer(
    help="Escalations: what would happen if an incident started now or then.", no_args_is_help=True
)

_LOCAL = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})\s+([A-Za-z][\w+\-/]*)$")


@dataclass(frozen=True)
class Instant:
    at: datetime  # UTC
    zone: str | None  # the IANA zone it was typed in, if any
    notice: str | None  # how a skipped or repeated wall time was read


def parse_at(value: str) -> Instant:
    """ "YYYY-MM-DD HH:MM Zone/Name" (a wall time in a zone) or ISO 8601 (no offset: UTC).

    A wall time skipped by a spring-forward jump means the first instant after the gap, and
    one that happens twice the first occurrence: the rules schedules follow (docs/schedules.md).
    """
    match = _LOCAL.match(value.strip())
    if match is None:
        try:
            parsed = output.parse_time(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(
                f"{value!r} is not a time; use 'YYYY-MM-DD HH:MM Zone/Name' or ISO 8601 with an offset,"
                " e.g. '2027-03-28 01:30 Europe/Berlin' or 2027-03-28T01:30+01:00"
            )
        return Instant(parsed, None, None)
    try:
        zone = ZoneInfo(match[3])
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {match[3]!r}; use an IANA name like 'Europe/Berlin'") from None
    try:
        wall = datetime.strptime(f"{match[1]} {match[2]}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValueError(f"{match[1]} {match[2]} is not a date and time") from None
    instant = resolve_local(wall, zone)
    local = instant.astimezone(zone)
    notice = None
    if local.replace(tzinfo=None) != wall:
        before = (instant - timedelta(seconds=1)).astimezone(zone)
        jump = (instant + (before.utcoffset() or timedelta())).replace(tzinfo=None)
        notice = (
            f"{wall:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks jump from {jump:%H:%M} {before.tzname()}"
            f" to {local:%H:%M} {local.tzname()}. Simulating from {local:%H:%M} {local.tzname()}"
            f" ({instant:%H:%M} UTC), the first instant after the gap, as schedules read it."
        )
    elif wall.replace(tzinfo=zone, fold=1).utcoffset() != local.utcoffset():
        notice = (
            f"{wall:%Y-%m-%d %H:%M} happens twice in {zone.key}; using the first,"
            f" {local:%H:%M} {local.tzname()} ({instant:%H:%M} UTC), as schedules read it."
        )
    return Instant(instant, zone.key, notice)


@escalation_app.command("simulate")
def simulate(
    service: Annotated[str, typer.Option("--service", help="The service the incident is on")],
    severity: Annotated[str, typer.Option("--severity", help="e.g. P1")],
    at: Annotated[str, typer.Option("--at", help="When: '2027-03-28 01:30 Europe/Berlin', or ISO 8601 with an offset")],
    hours: Annotated[float, typer.Option("--hours", min=0.02, max=168, help="How far to follow the escalation")] = 2,
    as_json: AsJson = False,
) -> None:
    """Show who would be paged, when, on which channel and why, if an incident started at --at.

    Runs the server's real escalation engine on a simulated clock and keeps nothing.
    """
    try:
        instant = parse_at(at)
    except ValueError as exc:
        raise _fail(f"--at: {exc}", EXIT_CONFIG) from None
    if instant.notice:
        _notice(instant.notice, as_json)
    body: Json = {
        "service": service,
        "severity": severity,
        "at": instant.at.isoformat(),
        "horizon_minutes": max(1, round(hours * 60)),
        "time_zone": instant.zone,
    }
    with _server() as api:
        answer: Json = api.post("/api/v1/escalation/simulate", body)
    if as_json:
        output.print_json(answer)
        return
    _render(answer)


def _notice(message: str, as_json: bool) -> None:
    # With --json, stdout is the server's answer and nothing else.
    Console(stderr=as_json, highlight=False).print(f"note: {escape(message)}", soft_wrap=True)


def _render(answer: Json) -> None:
    zone = ZoneInfo(answer["time_zone"])
    start, until = _local(answer["start"], zone), _local(answer["until"], zone)
    policy = f"policy {answer['policy']}" if answer["policy"] else "no escalation policy"
    output.say(
        f"What if a {answer['severity']} incident on {answer['service']} starts at {_stamp(start)} ({zone.key})?"
        f" Following {policy} until {_stamp(until)}."
    )
    if answer["pages"]:
        grid = output.table(f"Time ({zone.key})", "UTC", "Who", "Channel", "Level", "Why", keys=2)
        for page in answer["pages"]:
            local = _local(page["at"], zone)
            who = page["user"]
            theirs = _local(page["at"], ZoneInfo(page["user_zone"]))
            if theirs.utcoffset() != local.utcoffset():
                who += f" ({theirs:%H:%M} {theirs.tzname()} for them)"
            level = str(page["level"]) + (f" (round {page['round']})" if page["round"] > 1 else "")
            channel = escape(page["channel"]) if page["channel"] else "[yellow]not paged[/yellow]"
            at_utc = datetime.fromisoformat(page["at"]).astimezone(UTC)
            grid.add_row(_stamp(local), f"{at_utc:%H:%M}", escape(who), channel, level, escape(page["why"]))
        output.console().print(grid)
    else:
        output.say("Nobody is paged.")
    for note in answer["notes"]:
        output.say(f"- {note}")


def _local(value: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(value).astimezone(zone)


def _stamp(local: datetime) -> str:
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def register(app: typer.Typer) -> None:
    app.add_typer(escalation_app, name="escalation")
