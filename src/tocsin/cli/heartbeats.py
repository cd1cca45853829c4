"""`tocsin heartbeat`: passive checks for cron jobs and workers, over HTTP like the other remote commands.

`--json` on `list` and `show` prints the server's answer as-is; the tables are
for people. Durations are written as in config files (30s, 5m, 1h, 1d).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import EXIT_CONFIG, Json, segment
from tocsin.cli.remote import AsJson, _fail, _moved, _read, _server
from tocsin.config_file.durations import EXAMPLES, parse_duration

heartbeat_app = typer.Typer(
    help="Heartbeats: cron jobs and workers ping a URL; a missed or failed ping raises an alert.",
    no_args_is_help=True,
)

HeartbeatRef = Annotated[str, typer.Argument(metavar="NAME", help="The heartbeat's name, or the uuid of its ping URL")]


def _seconds(option: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        span: timedelta = parse_duration(text)
    except ValueError as exc:
        raise _fail(f"{option}: {exc}", EXIT_CONFIG) from None
    return int(span.total_seconds())


def _expected(heartbeat: Json) -> str:
    if heartbeat.get("cron"):
        text = f"cron {heartbeat['cron']} ({heartbeat['time_zone']})"
    else:
        text = f"every {output.duration(heartbeat['period_s'])}"
    text += f", grace {output.duration(heartbeat['grace_s'])}"
    low, high = heartbeat.get("min_run_s"), heartbeat.get("max_run_s")
    if low is not None or high is not None:
        bounds = [f"≥ {output.duration(low)}" if low is not None else "", f"≤ {output.duration(high)}" if high else ""]
        text += f", run {' '.join(b for b in bounds if b)}"
    return text


def _status(heartbeat: Json) -> str:
    return str(heartbeat["status"]) + (" (running)" if heartbeat.get("running") else "")


@heartbeat_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A key such as nightly-backup")],
    service: Annotated[str, typer.Option(help="Key of the service whose alert it raises")],
    period: Annotated[str | None, typer.Option(help=f"Expected every this long, e.g. 1h ({EXAMPLES})")] = None,
    cron: Annotated[str | None, typer.Option(help="Or at each time of this cron expression, e.g. '0 3 * * *'")] = None,
    time_zone: Annotated[str, typer.Option("--tz", help="The cron expression's time zone, e.g. Europe/Berlin")] = "UTC",
    grace: Annotated[str, typer.Option(help="How late a ping may be before it is down")] = "1h",
    min_run: Annotated[str | None, typer.Option(help="A run (start → success) shorter than this fails")] = None,
    max_run: Annotated[str | None, typer.Option(help="A run longer than this fails")] = None,
    description: Annotated[str, typer.Option(help="What runs it and what it does")] = "",
    as_json: AsJson = False,
) -> None:
    """Create a heartbeat and print the URL its job pings."""
    if (period is None) == (cron is None):
        raise _fail("give --period or --cron (one of them)", EXIT_CONFIG)
    body: Json = {
        "service": service,
        "name": name,
        "description": description,
        "period_s": _seconds("--period", period),
        "cron": cron,
        "time_zone": time_zone,
        "grace_s": _seconds("--grace", grace),
        "min_run_s": _seconds("--min-run", min_run),
        "max_run_s": _seconds("--max-run", max_run),
    }
    with _server() as api:
        created: Json = api.post("/api/v1/heartbeats", body)
    _moved(
        created,
        as_json,
        f"Created heartbeat {created['name']} for service {created['service']}: {_expected(created)}.\n"
        f"Ping it at the end of each run:\n  curl -fsS -m 10 --retry 5 {created['ping_url']}\n"
        f"(or {created['ping_url']}/start first, /fail or /<exit status> on failure)",
    )


@heartbeat_app.command("edit")
def edit(
    ref: HeartbeatRef,
    name: Annotated[str | None, typer.Option(help="A new name (the ping URL stays)")] = None,
    service: Annotated[str | None, typer.Option(help="Key of the service whose alert it raises")] = None,
    description: Annotated[str | None, typer.Option(help="What runs it and what it does")] = None,
    period: Annotated[str | None, typer.Option(help=f"Expected every this long ({EXAMPLES}); replaces a cron")] = None,
    cron: Annotated[
        str | None, typer.Option(help="Expected at each time of this cron expression; replaces a period")
    ] = None,
    time_zone: Annotated[str | None, typer.Option("--tz", help="The cron expression's time zone")] = None,
    grace: Annotated[str | None, typer.Option(help="How late a ping may be before it is down")] = None,
    min_run: Annotated[str | None, typer.Option(help="A shorter run fails; 'none' removes the bound")] = None,
    max_run: Annotated[str | None, typer.Option(help="A longer run fails; 'none' removes the bound")] = None,
    as_json: AsJson = False,
) -> None:
    """Change a heartbeat; what is left out stays. Its ping URL and pings stay too, and the
    engine judges it by the new schedule from its next check."""
    if period is not None and cron is not None:
        raise _fail("give --period or --cron, not both", EXIT_CONFIG)
    body: Json = {}
    for field, value in (("name", name), ("service", service), ("description", description), ("cron", cron)):
        if value is not None:
            body[field] = value
    if time_zone is not None:
        body["time_zone"] = time_zone
    for option, field, value in (("--period", "period_s", period), ("--grace", "grace_s", grace)):
        if value is not None:
            body[field] = _seconds(option, value)
    for option, field, value in (("--min-run", "min_run_s", min_run), ("--max-run", "max_run_s", max_run)):
        if value is not None:
            body[field] = None if value.strip().lower() == "none" else _seconds(option, value)
    if not body:
        raise _fail("nothing to change: give at least one option (see --help)", EXIT_CONFIG)
    with _server() as api:
        edited: Json = api.patch(f"/api/v1/heartbeats/{segment(ref)}", body)
    _moved(edited, as_json, f"Edited heartbeat {edited['name']}: {_expected(edited)}.")


def _table(heartbeats: list[Json]) -> None:
    now = output.now()
    grid = output.table("NAME", "SERVICE", "STATUS", "EXPECTED", "LAST PING", "PING URL")
    for heartbeat in heartbeats:
        grid.add_row(
            escape(heartbeat["name"]),
            escape(heartbeat["service"]),
            _status(heartbeat),
            escape(_expected(heartbeat)),
            output.when(heartbeat["last_ping_at"], relative_to=now),
            escape(heartbeat["ping_url"]),
        )
    if not heartbeats:
        output.say("No heartbeats.")
        return
    output.console().print(grid)


@heartbeat_app.command("list")
def list_heartbeats(
    service: Annotated[str | None, typer.Option(help="Only this service's heartbeats")] = None,
    as_json: AsJson = False,
) -> None:
    """List heartbeats with their status now (new, up, late, down, paused)."""
    _read("/api/v1/heartbeats", as_json, _table, service=service)


def _show(heartbeat: Json) -> None:
    now = output.now()
    say = output.say  # user text in these lines is never read as markup
    say(f"{heartbeat['name']} · {_status(heartbeat)} · service {heartbeat['service']}")
    if heartbeat["description"]:
        say(heartbeat["description"])
    say(f"Ping URL:   {heartbeat['ping_url']}")
    say(f"Expected:   {_expected(heartbeat)}")
    say(f"Last ping:  {output.when(heartbeat['last_ping_at'], relative_to=now)}")
    if heartbeat["running"]:
        say(f"Running since {output.when(heartbeat['started_at'], relative_to=now)}")
    if heartbeat["last_duration_s"] is not None:
        say(f"Last run:   {output.duration(heartbeat['last_duration_s'])}")
    if heartbeat["next_due_at"]:
        say(f"Down at:    {output.when(heartbeat['next_due_at'], relative_to=now)} unless it is pinged")
    pings: list[Json] = heartbeat["recent_pings"]
    if not pings:
        say("No pings yet.")
        return
    grid = output.table("#", "KIND", "AT", "FROM", "RUN", "LOG")
    for ping in pings:
        kind = ping["kind"] + (f" ({ping['exit_status']})" if ping["exit_status"] is not None else "")
        log = ping["body"].strip().splitlines()[-1][:80] if ping["body"].strip() else ""
        grid.add_row(
            str(ping["n"]),
            kind,
            output.when(ping["at"]),
            escape(f"{ping['method']} {ping['remote_addr']}"),
            output.duration(ping["duration_s"]) if ping["duration_s"] is not None else "",
            escape(log + (" …(truncated)" if ping["body_truncated"] else "")),
        )
    output.console().print(grid)


@heartbeat_app.command("show")
def show(
    ref: HeartbeatRef,
    pings: Annotated[int, typer.Option(min=0, max=100, help="How many recent pings to list")] = 20,
    as_json: AsJson = False,
) -> None:
    """Show a heartbeat, its ping URL and its most recent pings with their logs."""
    _read(f"/api/v1/heartbeats/{segment(ref)}", as_json, _show, pings=pings)


def _act(ref: str, action: str, as_json: bool, message: str) -> None:
    with _server() as api:
        heartbeat: Any = api.post(f"/api/v1/heartbeats/{segment(ref)}/{action}", {})
    _moved(heartbeat, as_json, message.format(name=heartbeat["name"]))


@heartbeat_app.command("pause")
def pause(ref: HeartbeatRef, as_json: AsJson = False) -> None:
    """Pause a heartbeat: its pings are recorded, and nothing is raised until it is resumed."""
    _act(ref, "pause", as_json, "Paused heartbeat {name}.")


@heartbeat_app.command("resume")
def resume(ref: HeartbeatRef, as_json: AsJson = False) -> None:
    """Resume a paused heartbeat: it is new again, and expected from its next ping on."""
    _act(ref, "resume", as_json, "Resumed heartbeat {name}; it is expected again from its next ping.")


@heartbeat_app.command("delete")
def delete(ref: HeartbeatRef) -> None:
    """Delete a heartbeat and its pings; its alert, if firing, is resolved."""
    with _server() as api:
        api.delete(f"/api/v1/heartbeats/{segment(ref)}")
    output.say(f"Deleted heartbeat {ref}.")


def register(app: typer.Typer) -> None:
    app.add_typer(heartbeat_app, name="heartbeat")
