"""`tocsin schedule feed KEY` and `tocsin user feed EMAIL`: a secret iCal URL for a calendar app.

The URL is printed once, alone on stdout (so `$(tocsin user feed me@example.com)`
captures it), and the server keeps only a hash of it: lose it and make another.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tocsin.cli import output, paging, remote
from tocsin.cli.client import Json, segment
from tocsin.cli.remote import AsJson, _server


def schedule_feed(key: Annotated[str, typer.Argument(help="Schedule key")], as_json: AsJson = False) -> None:
    """Make a secret iCal URL with everyone's shifts in a schedule (shown once)."""
    _issue(f"/api/v1/schedules/{segment(key)}/feeds", as_json)


def user_feed(email: Annotated[str, typer.Argument(help="The user's e-mail")], as_json: AsJson = False) -> None:
    """Make a secret iCal URL with one user's shifts in every schedule (shown once; your own, or anyone's as admin)."""
    _issue(f"/api/v1/users/{segment(email)}/feeds", as_json)


def _issue(path: str, as_json: bool) -> None:
    with _server() as api:
        feed: Json = api.post(path, {})
    if as_json:
        output.print_json(feed)
        return
    typer.echo(feed["url"])
    # On stderr, so that stdout stays the URL alone.
    typer.echo(
        f"Subscribe to this URL in your calendar app. Anyone who has it sees these shifts; it is shown only once."
        f" Revoke it with DELETE /api/v1/feeds/{feed['id']}.",
        err=True,
    )


def register(app: typer.Typer) -> None:
    """Add `feed` to the `schedule` and `user` groups.

    `app` is unused: those groups are module-level Typers that `paging` and `remote` mount
    on it, and Typer reads their commands only when the CLI runs, so the order does not matter.
    """
    paging.schedule_app.command("feed")(schedule_feed)
    remote.user_app.command("feed")(user_feed)
