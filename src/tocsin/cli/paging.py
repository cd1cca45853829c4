"""Remote commands for paging: who is on call, schedules and overrides, escalation policies, readiness.

They follow `tocsin.cli.remote`: same server and token, `--json` on every
listing and `show`, same exit codes. Times typed without an offset are UTC,
like every time the CLI prints.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tocsin.cli import output
from tocsin.cli.client import EXIT_CONFIG, Json, segment
from tocsin.cli.remote import AsJson, _fail, _moved, _read, _server

schedule_app = typer.Typer(help="On-call schedules: rotations, overrides, the final schedule.", no_args_is_help=True)
policy_app = typer.Typer(help="Escalation policies: who is paged, in what order.", no_args_is_help=True)


def _instant(value: str, option: str) -> datetime:
    try:
        parsed = output.parse_time(value)
    except ValueError:
        raise _fail(f"{option}: {value!r} is not a time; use ISO 8601, e.g. 2026-11-23T09:00Z", EXIT_CONFIG) from None
    assert parsed is not None  # parse_time only answers None for an empty value, which typer never passes
    return parsed


def _until(value: str | None) -> str:
    return output.when(value) if value else "—"


# ---- who is on call --------------------------------------------------------------------------


def oncall(
    at: Annotated[
        str | None, typer.Option("--at", help="An instant, e.g. 2026-11-23T22:00Z; now when left out")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Show who is on call in every schedule."""
    params: dict[str, Any] = {"at": _instant(at, "--at").isoformat() if at else None}
    _read("/api/v1/on-call", as_json, _oncall_table, **params)


def _oncall_table(answer: list[Json]) -> None:
    if not answer:
        output.say("No schedules yet.")
        return
    grid = output.table("Schedule", "On call", "Via", "Until")
    for row in answer:
        who = escape(f"{row['name']} <{row['user']}>") if row["user"] else "[red]nobody[/red]"
        via = row["layer"] or row["source"] or "—"
        grid.add_row(escape(row["schedule"]), who, escape(via), _until(row["until"]))
    output.console().print(grid)


# ---- schedules -------------------------------------------------------------------------------


@schedule_app.command("list")
def list_schedules(as_json: AsJson = False) -> None:
    """List schedules and their layers."""
    _read("/api/v1/schedules", as_json, _schedules_table)


def _schedules_table(answer: list[Json]) -> None:
    if not answer:
        output.say("No schedules yet.")
        return
    grid = output.table("Key", "Name", "Time zone", "Layers")
    for schedule in answer:
        layers = output.joined(f"{layer['name']} ({_rhythm(layer)})" for layer in schedule["layers"])
        grid.add_row(escape(schedule["key"]), escape(schedule["name"]), schedule["time_zone"], escape(layers))
    output.console().print(grid)


def _rhythm(layer: Json) -> str:
    unit = {"daily": "day", "weekly": "week", "hourly": "hour"}.get(layer["kind"], layer["kind"])
    return f"every {unit}" if layer["every"] == 1 else f"every {layer['every']} {unit}s"


@schedule_app.command("show")
def show_schedule(
    key: Annotated[str, typer.Argument(help="Schedule key")],
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days of the final schedule to show")] = 14,
    as_json: AsJson = False,
) -> None:
    """Show a schedule's layers and its final schedule (shifts and gaps) from now on."""
    start = output.now()
    path = f"/api/v1/schedules/{segment(key)}"
    with _server() as api:
        schedule: Json = api.get(path)
        final: Json = api.get(f"{path}/final", start=start.isoformat(), end=(start + timedelta(days=days)).isoformat())
    if as_json:
        output.print_json({**schedule, "final": final})
        return
    out = output.console()
    out.print(f"[bold]{escape(schedule['key'])}[/bold]  {escape(schedule['name'])} ({schedule['time_zone']})")
    layers = output.table("Layer", "Rotation", "First hand-off", "Participants", "Restrictions")
    for layer in schedule["layers"]:
        windows = output.joined(f"{'/'.join(r['days'])} {r['start']}-{r['end']}" for r in layer["restrictions"])
        first = f"{layer['start'].replace('T', ' ')[:16]} {layer['time_zone']}"
        layers.add_row(
            escape(layer["name"]), _rhythm(layer), first, escape(output.joined(layer["participants"])), windows
        )
    out.print(layers)
    out.print(_final_table(final))
    if final["gaps"]:
        out.print(f"[yellow]{len(final['gaps'])} gap(s):[/yellow]")
        for gap in final["gaps"]:
            out.print(f"  {escape(gap['description'])}")
    else:
        out.print(f"No gaps in the next {days} days.")


def _final_table(final: Json) -> Table:
    rows = [(s["start"], s["end"], escape(s["user"]), escape(s["layer"] or s["source"])) for s in final["shifts"]]
    rows += [(g["start"], g["end"], "[red]nobody[/red]", "gap") for g in final["gaps"]]
    grid = output.table("From", "To", "On call", "Via", keys=2)
    grid.title = "Final schedule (UTC)"
    for start, end, who, via in sorted(rows):
        grid.add_row(output.when(start), output.when(end), who, via)
    return grid


@schedule_app.command("override")
def add_override(
    key: Annotated[str, typer.Argument(help="Schedule key")],
    user: Annotated[str, typer.Option(help="E-mail of the person covering")],
    start: Annotated[str, typer.Option(help="From, e.g. 2026-11-24T18:00Z (UTC when no offset)")],
    end: Annotated[str, typer.Option(help="Until, e.g. 2026-11-25T08:00Z")],
    as_json: AsJson = False,
) -> None:
    """Let someone cover a schedule for a while, whoever the rotation says."""
    body: Json = {
        "user": user,
        "start": _instant(start, "--start").isoformat(),
        "end": _instant(end, "--end").isoformat(),
    }
    with _server() as api:
        override: Json = api.post(f"/api/v1/schedules/{segment(key)}/overrides", body)
    message = (
        f"{override['user']} covers {key} from {output.when(override['start'])} to {output.when(override['end'])}"
        f" (override {override['id']})."
    )
    _moved(override, as_json, message)


# ---- escalation policies ---------------------------------------------------------------------


def _targets(level: Json) -> str:
    return ", ".join(f"{t['kind']} {t['key']}" for t in level["targets"])


@policy_app.command("list")
def list_policies(as_json: AsJson = False) -> None:
    """List escalation policies."""
    _read("/api/v1/escalation-policies", as_json, _policies_table)


def _policies_table(answer: list[Json]) -> None:
    if not answer:
        output.say("No escalation policies yet.")
        return
    grid = output.table("Key", "Name", "Levels", "Repeat")
    for policy in answer:
        levels = " → ".join(_targets(level) for level in policy["levels"])
        grid.add_row(escape(policy["key"]), escape(policy["name"]), escape(levels), str(policy["repeat"]))
    output.console().print(grid)


@policy_app.command("show")
def show_policy(key: Annotated[str, typer.Argument(help="Policy key")], as_json: AsJson = False) -> None:
    """Show a policy's levels, with when each is paged, and its per-severity variants."""
    _read(f"/api/v1/escalation-policies/{segment(key)}", as_json, _show_policy)


def _show_policy(policy: Json) -> None:
    out = output.console()
    rounds = "once" if policy["repeat"] == 0 else f"{policy['repeat'] + 1} times"
    out.print(f"[bold]{escape(policy['key'])}[/bold]  {escape(policy['name'])} · runs {rounds}")
    grid = output.table("Level", "Paged at", "Targets", "Next level after")
    at = 0
    for number, level in enumerate(policy["levels"], start=1):
        grid.add_row(str(number), f"+{output.duration(at)}", escape(_targets(level)), output.duration(level["delay_s"]))
        at += level["delay_s"]
    out.print(grid)
    for severity, variant in sorted(policy["variants"].items()):
        shape = variant["kind"].replace("_", " ")
        if variant["step_delay_s"] is not None:
            shape += f" {output.duration(variant['step_delay_s'])}"
        out.print(f"  {escape(severity)}: {shape}")


# ---- readiness -------------------------------------------------------------------------------


def readiness(as_json: AsJson = False) -> None:
    """Check that everyone on call now or in the next 24 hours can be woken."""
    _read("/api/v1/readiness", as_json, _readiness_table)


def _readiness_table(answer: list[Json]) -> None:
    if not answer:
        output.say("Everyone on call in the next 24 hours has a verified high-urgency contact method.")
        return
    grid = output.table("User", "On call from", "Schedules", "Problem")
    for warning in answer:
        grid.add_row(
            escape(f"{warning['name']} <{warning['user']}>"),
            output.when(warning["on_call_from"]),
            escape(output.joined(warning["schedules"])),
            "no verified high-urgency contact method",
        )
    output.console().print(grid)


def register(app: typer.Typer) -> None:
    """Add the paging commands to the `tocsin` app."""
    app.command("oncall")(oncall)
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(policy_app, name="policy")
    app.command("readiness")(readiness)
