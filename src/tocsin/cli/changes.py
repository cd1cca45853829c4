"""`tocsin change`: deploys and config changes, recorded from a pipeline and listed next to incidents.

`--json` on `list` prints the server's answer as-is; the table is for people.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tocsin.cli import output
from tocsin.cli.client import EXIT_CONFIG, Json, segment
from tocsin.cli.remote import AsJson, _fail, _server

change_app = typer.Typer(help="Changes: deploys and config changes, shown next to incidents.", no_args_is_help=True)


@change_app.command("list")
def list_changes(
    service: Annotated[str | None, typer.Option(help="Only this service's changes")] = None,
    incident: Annotated[
        str | None, typer.Option(help="The changes to this incident's services in the hours before it")
    ] = None,
    hours: Annotated[float, typer.Option(help="With --incident: how far back to look")] = 6,
    limit: Annotated[int, typer.Option(help="At most this many")] = 50,
    as_json: AsJson = False,
) -> None:
    """List changes, newest first."""
    if incident is not None and service is not None:
        raise _fail("give --service or --incident, not both", EXIT_CONFIG)
    with _server() as api:
        if incident is not None:
            answer: Json = api.get(f"/api/v1/incidents/{segment(incident.strip())}/changes", hours=hours)
        else:
            listed: list[Json] = api.get("/api/v1/changes", service=service, limit=limit)
    if as_json:
        output.print_json(answer if incident is not None else listed)
    elif incident is not None:
        output.incident_changes(answer, output.now())
    else:
        output.changes_table(listed, output.now())


@change_app.command("record")
def record(
    service: Annotated[str, typer.Option(help="Key of the service that changed")],
    version: Annotated[str, typer.Option(help="What was deployed: a version, tag or ref")] = "",
    environment: Annotated[str, typer.Option("--env", "--environment", help="e.g. production")] = "",
    status: Annotated[str | None, typer.Option(help="started, success, failure or canceled")] = None,
    duration: Annotated[int | None, typer.Option(help="How long the deploy took, in seconds")] = None,
    commit: Annotated[str, typer.Option(help="The commit SHA")] = "",
    author: Annotated[str, typer.Option(help="Who deployed")] = "",
    url: Annotated[str | None, typer.Option(help="Where the deploy's details are")] = None,
    summary: Annotated[str, typer.Option(help="One line; made from the rest when left out")] = "",
    occurred_at: Annotated[
        str | None, typer.Option("--at", help="When it happened (ISO 8601 with a zone); now when left out")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Record a deploy or config change, e.g. as the last step of a deploy pipeline."""
    body: Json = {"service": service, "version": version, "environment": environment, "commit": commit}
    body.update(author=author, summary=summary)
    for name, value in (("status", status), ("duration_s", duration), ("url", url), ("occurred_at", occurred_at)):
        if value is not None:
            body[name] = value
    with _server() as api:
        made: Json = api.post("/api/v1/changes", body)
    if as_json:
        output.print_json(made)
        return
    output.say(f"Recorded change {made['id']} of {made['service']}: {made['summary']}")


def register(app: typer.Typer) -> None:
    app.add_typer(change_app, name="change")
