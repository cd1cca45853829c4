"""`tocsin notify test EMAIL`: send a test notification to each of a user's contact methods.

The server only plans the messages; its engine sends them. The command polls
until each is sent or failed (or `--timeout` runs out), prints one row per
contact method, and exits 1 if any did not arrive, so a script can check
that someone can be woken before putting them on call.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import EXIT_API, Json, segment
from tocsin.cli.remote import AsJson, _server

notify_app = typer.Typer(help="Notifications: check that contact methods work.", no_args_is_help=True)

_DONE = ("sent", "failed", "canceled")
POLL_INTERVAL_S = 0.5
# Tests swap this for a fake that moves no real time.
_sleep = time.sleep


@notify_app.command("test")
def send_test(
    email: Annotated[str, typer.Argument(help="The user whose contact methods to test")],
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the results")] = 30.0,
    as_json: AsJson = False,
) -> None:
    """Send a test notification to every contact method of a user and show what happened."""
    with _server() as api:
        made: Json = api.post(f"/api/v1/users/{segment(email.strip())}/notify-test", {})
        ids = ",".join(str(i) for i in made["ids"])
        results: list[Json] = made["notifications"]
        deadline = time.monotonic() + timeout
        while any(r["status"] not in _DONE for r in results) and time.monotonic() < deadline:
            _sleep(POLL_INTERVAL_S)
            results = api.get("/api/v1/notifications", ids=ids)
    if as_json:
        output.print_json(results)
    else:
        _table(results)
    if any(r["status"] != "sent" for r in results):
        raise typer.Exit(EXIT_API)


def _table(results: list[Json]) -> None:
    grid = output.table("Method", "Channel", "Result", "Error")
    for row in results:
        status = row["status"]
        shown = {"sent": "[green]sent[/green]", "failed": "[red]failed[/red]"}.get(
            status, f"[yellow]{escape(status)}[/yellow]" + (" (timed out)" if status not in _DONE else "")
        )
        grid.add_row(escape(row["contact_method"] or "—"), escape(row["channel"]), shown, escape(row["error"] or ""))
    output.console().print(grid)


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
