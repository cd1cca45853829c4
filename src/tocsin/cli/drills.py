"""`tocsin drill`: practice incidents from a built-in scenario, and how the response went.

`--json` prints the server's answer as-is; the tables are for people.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import Json
from tocsin.cli.remote import AsJson, _server

drill_app = typer.Typer(
    help="Drills: run a practice incident end to end and measure the response.", no_args_is_help=True
)

_VERDICT_STYLE = {"met": "green", "missed": "red", "pending": "yellow"}


@drill_app.command("list")
def list_drills(
    state: Annotated[str | None, typer.Option(help="running, finished or canceled")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 50,
    as_json: AsJson = False,
) -> None:
    """List drills, newest first."""
    with _server() as api:
        listed: list[Json] = api.get("/api/v1/drills", state=state, limit=limit)
    if as_json:
        output.print_json(listed)
        return
    if not listed:
        output.say("No drills yet. Start one with `tocsin drill start database-outage`.")
        return
    reference = output.now()
    grid = output.table("ID", "Scenario", "Service", "Incident", "State", "Started", "By", keys=1)
    for drill in listed:
        grid.add_row(
            str(drill["id"]),
            drill["scenario"],
            drill["service"],
            drill["incident"] or output.NONE,
            drill["state"],
            output.when(drill["started_at"], relative_to=reference),
            escape(drill["started_by"]),
        )
    output.console().print(grid)


@drill_app.command("scenarios")
def scenarios(as_json: AsJson = False) -> None:
    """The built-in scenarios."""
    with _server() as api:
        listed: list[Json] = api.get("/api/v1/drills/scenarios")
    if as_json:
        output.print_json(listed)
        return
    grid = output.table("Scenario", "What fires", keys=1)
    for scenario in listed:
        grid.add_row(scenario["key"], escape(scenario["description"]))
    output.console().print(grid)


@drill_app.command("start")
def start(
    scenario: Annotated[
        str, typer.Argument(help="database-outage, payment-provider-outage, auth-broken or bad-deploy")
    ],
    service: Annotated[
        str | None, typer.Option(help="The service to drill; the first with an escalation policy if left out")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Start a drill: the scenario's signals declare a drill incident and page the on-call person."""
    body: Json = {"scenario": scenario}
    if service is not None:
        body["service"] = service
    with _server() as api:
        made: Json = api.post("/api/v1/drills", body)
    if as_json:
        output.print_json(made)
        return
    output.say(
        f"DRILL {made['id']} started: {made['scenario']} on {made['service']},"
        f" incident {made['incident']} ({made['severity']}). The on-call person is being paged;"
        " respond as you would for real. The status page and customers are not told."
    )
    output.say(f"Follow it: tocsin drill show {made['id']}; end it early: tocsin drill stop {made['id']}")


@drill_app.command("show")
def show(drill_id: Annotated[int, typer.Argument(help="The drill's number")], as_json: AsJson = False) -> None:
    """A drill and its report: each milestone's time against the severity's target."""
    with _server() as api:
        drill: Json = api.get(f"/api/v1/drills/{drill_id}")
    if as_json:
        output.print_json(drill)
        return
    render(drill)


@drill_app.command("stop")
def stop(drill_id: Annotated[int, typer.Argument(help="The drill's number")], as_json: AsJson = False) -> None:
    """Stop a running drill: its incident is canceled and paging stops."""
    with _server() as api:
        drill: Json = api.post(f"/api/v1/drills/{drill_id}/stop", {})
    if as_json:
        output.print_json(drill)
        return
    output.say(f"Drill {drill['id']} stopped; incident {drill['incident']} canceled.")
    render(drill)


def render(drill: Json) -> None:
    output.say(
        f"DRILL {drill['id']}: {drill['scenario']} on {drill['service']} — {drill['state']}"
        f" · incident {drill['incident'] or output.NONE} ({drill['severity'] or output.NONE},"
        f" {drill['incident_status'] or output.NONE})"
    )
    output.say(f"Started {output.when(drill['started_at'])} by {drill['started_by']}")
    if drill["finished_at"]:
        output.say(f"Ended {output.when(drill['finished_at'])}")
    report = drill.get("report")
    if not report:
        return
    grid = output.table("Milestone", "Took", "Target", "Verdict", keys=1)
    for measure in report["measures"]:
        style = _VERDICT_STYLE.get(measure["verdict"])
        verdict = f"[{style}]{measure['verdict']}[/{style}]" if style else measure["verdict"]
        grid.add_row(
            measure["milestone"], output.duration(measure["took_s"]), output.duration(measure["target_s"]), verdict
        )
    output.console().print(grid)
    output.say(f"{report['met']} met, {report['missed']} missed.")
    if report["roles"]:
        roles = ", ".join(f"{role} after {output.duration(seconds)}" for role, seconds in report["roles"].items())
        output.say(f"Roles: {roles}")


def register(app: typer.Typer) -> None:
    app.add_typer(drill_app, name="drill")
