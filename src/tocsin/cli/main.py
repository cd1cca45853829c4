"""Entry point of the `tocsin` command."""

from __future__ import annotations

import typer

from tocsin import __version__
from tocsin.cli import (
    alerting,
    calendars,
    changes,
    channels,
    checks,
    contacts,
    crashes,
    declarative,
    drills,
    heartbeats,
    local,
    notify,
    paging,
    postmortems,
    remote,
    reports,
    runbooks,
    simulate,
    status_page,
    templates,
)

app = typer.Typer(
    name="tocsin",
    help="Tocsin incident response. Local: serve, migrate, token, validate, apply. "
    "Remote (TOCSIN_URL, TOCSIN_TOKEN or `tocsin login`): everything else.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(local.serve)
app.command()(local.migrate)
app.command("ingest-writer", hidden=True)(local.ingest_writer)
app.add_typer(local.token_app, name="token")
app.add_typer(local.user_app, name="user")
declarative.register(app)
remote.register(app)
alerting.register(app)
paging.register(app)
notify.register(app)
contacts.register(app)
simulate.register(app)
calendars.register(app)
channels.register(app)
heartbeats.register(app)
checks.register(app)
crashes.register(app)
changes.register(app)
status_page.register(app)
drills.register(app)
reports.register(app)
runbooks.register(app)
postmortems.register(app)
templates.register(app)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
