"""`tocsin crash`: crash groups from Sentry SDKs, over HTTP like the other remote commands.

`--json` on `list`, `show` and `releases` prints the server's answer as-is; the
tables are for people. Resolving a group resolves its alert (and the incident the
alert opened); the same crash from a later release reopens it as a regression.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import Json
from tocsin.cli.remote import AsJson, _moved, _read, _server

crash_app = typer.Typer(
    help="Crash groups: exceptions reported by Sentry SDKs (or POST /api/crashes), grouped by fingerprint.",
    no_args_is_help=True,
)

GroupId = Annotated[int, typer.Argument(metavar="ID", help="The crash group's id (`tocsin crash list`)")]


def _table(groups: list[Json]) -> None:
    if not groups:
        output.say("No crash groups.")
        return
    now = output.now()
    grid = output.table("ID", "LEVEL", "STATUS", "TITLE", "SERVICE", "EVENTS", "LAST SEEN", "RELEASE")
    for group in groups:
        grid.add_row(
            str(group["id"]),
            group["level"],
            group["status"] + (" · alerting" if group["alerting"] else ""),
            escape(group["title"][:80]),
            escape(group["service"] or ""),
            str(group["count"]),
            output.when(group["last_seen"], relative_to=now),
            escape(group["last_release"]),
        )
    output.console().print(grid)


@crash_app.command("list")
def list_crashes(
    service: Annotated[str | None, typer.Option(help="Only this service's crash groups")] = None,
    status: Annotated[str | None, typer.Option(help="open, resolved or ignored")] = None,
    level: Annotated[str | None, typer.Option(help="fatal, error, warning, info or debug")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many, most recently seen first")] = 100,
    as_json: AsJson = False,
) -> None:
    """List crash groups, the most recently seen first."""
    _read("/api/v1/crashes", as_json, _table, service=service, status=status, level=level, limit=limit)


def _frames(event: Json) -> list[str]:
    lines = []
    for exception in event["payload"].get("exceptions", []):
        lines.append(f"{exception['type']}: {exception['value']}")
        # Innermost last, as Python prints a traceback.
        for frame in exception.get("frames", [])[-10:]:
            where = frame.get("module") or frame.get("filename") or "?"
            line = f":{frame['lineno']}" if frame.get("lineno") is not None else ""
            mark = "" if frame.get("in_app") else "  (library)"
            lines.append(f"    {where}{line} in {frame.get('function') or '?'}{mark}")
            if frame.get("context_line"):
                lines.append(f"        {frame['context_line'].strip()}")
    if not lines and event["payload"].get("message"):
        lines.append(event["payload"]["message"])
    return lines


def _show(group: Json) -> None:
    now = output.now()
    say = output.say  # user text in these lines is never read as markup
    say(f"Crash {group['id']} · {group['level']} · {group['status']} · service {group['service']}")
    say(group["title"])
    if group["culprit"]:
        say(f"Culprit:    {group['culprit']}")
    say(f"Events:     {group['count']}")
    say(f"First seen: {output.when(group['first_seen'], relative_to=now)} in {group['first_release'] or '?'}")
    say(f"Last seen:  {output.when(group['last_seen'], relative_to=now)} in {group['last_release'] or '?'}")
    if group["platforms"]:
        say(f"Platforms:  {', '.join(group['platforms'])}")
    if group["resolved_at"]:
        say(
            f"Resolved:   {output.when(group['resolved_at'], relative_to=now)} in {group['resolved_in_release'] or '?'}"
        )
    if group["regressed_at"]:
        say(f"Regressed:  {output.when(group['regressed_at'], relative_to=now)}")
    if group["by_release"]:
        grid = output.table("RELEASE", "EVENTS", "LAST SEEN")
        for row in group["by_release"]:
            grid.add_row(escape(row["release"] or "(none)"), str(row["events"]), output.when(row["last_seen"]))
        output.console().print(grid)
    sample = group["samples"][0] if group["samples"] else group["first_event"]
    if sample is not None and sample.get("payload"):
        say(f"Latest event {sample['event_id']} ({output.when(sample['received_at'], relative_to=now)}):")
        for line in _frames(sample):
            say(f"  {line}")


@crash_app.command("show")
def show(group_id: GroupId, as_json: AsJson = False) -> None:
    """Show a crash group: counts, releases, and the stack trace of its latest event."""
    _read(f"/api/v1/crashes/{group_id}", as_json, _show)


@crash_app.command("resolve")
def resolve(
    group_id: GroupId,
    release: Annotated[
        str | None, typer.Option(help="Fixed in this release (default: the newest seen); a later one regresses")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Resolve a crash group: its alert resolves; the same crash from a later release reopens it."""
    with _server() as api:
        group: Any = api.post(f"/api/v1/crashes/{group_id}/resolve", {"release": release})
    where = f" in {group['resolved_in_release']}" if group["resolved_in_release"] else ""
    _moved(group, as_json, f"Resolved crash {group['id']}{where}: {group['title']}")


@crash_app.command("ignore")
def ignore(group_id: GroupId, as_json: AsJson = False) -> None:
    """Ignore a crash group: still counted, never alerted on until reopened."""
    with _server() as api:
        group: Any = api.post(f"/api/v1/crashes/{group_id}/ignore", {})
    _moved(group, as_json, f"Ignored crash {group['id']}: {group['title']}")


@crash_app.command("reopen")
def reopen(group_id: GroupId, as_json: AsJson = False) -> None:
    """Reopen a resolved or ignored crash group."""
    with _server() as api:
        group: Any = api.post(f"/api/v1/crashes/{group_id}/reopen", {})
    _moved(group, as_json, f"Reopened crash {group['id']}: {group['title']}")


def _releases(rows: list[Json]) -> None:
    if not rows:
        output.say("No sessions yet: SDKs send them with release health on (see docs/crashes.md).")
        return
    grid = output.table("SERVICE", "RELEASE", "ENVIRONMENT", "SESSIONS", "CRASHED", "CRASH-FREE", "GROUPS")
    for row in rows:
        rate = "" if row["crash_free"] is None else f"{row['crash_free'] * 100:.2f}%"
        grid.add_row(
            escape(row["service"]),
            escape(row["release"]),
            escape(row["environment"]),
            str(row["sessions"]),
            str(row["crashed"]),
            rate,
            str(row["crash_groups"]),
        )
    output.console().print(grid)


@crash_app.command("releases")
def releases(
    service: Annotated[str | None, typer.Option(help="Only this service's projects")] = None,
    environment: Annotated[str | None, typer.Option(help="Only this environment")] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Sessions of the last this many days")] = 30,
    as_json: AsJson = False,
) -> None:
    """Release health: sessions and the crash-free rate per release."""
    _read("/api/v1/crashes/releases", as_json, _releases, service=service, environment=environment, days=days)


def register(app: typer.Typer) -> None:
    app.add_typer(crash_app, name="crash")
