"""Commands that work on the database directly: serve, migrate, token create.

The server, SQLAlchemy and Alembic are imported inside the commands: every
`tocsin` invocation loads this module, and remote commands should start fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from tocsin.clock import from_env as clock_from_env
from tocsin.config import Settings

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def migrate() -> None:
    """Create or upgrade the database schema and the shipped defaults."""
    from tocsin.services import bootstrap
    from tocsin.storage import migrate as migrations
    from tocsin.storage.db import make_engine, make_sessionmaker

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    migrations.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        bootstrap.ensure_defaults(session)
        session.commit()
    console.print(f"Database is up to date ({engine.url.render_as_string(hide_password=True)})")


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (TOCSIN_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (TOCSIN_PORT)")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes (TOCSIN_WORKERS); more than one needs PostgreSQL")
    ] = None,
) -> None:
    """Run the API server and the engine."""
    import uvicorn
    from sqlalchemy.exc import IntegrityError

    from tocsin.observability import configure_logging
    from tocsin.services import bootstrap
    from tocsin.storage import migrate as migrations
    from tocsin.storage.db import is_sqlite, make_engine, make_sessionmaker

    settings = Settings.from_env()
    workers = settings.workers if workers is None else workers
    configure_logging(json=settings.log_json, level=settings.log_level)
    if workers < 1:
        raise fail(f"TOCSIN_WORKERS (or --workers) must be 1 or more, not {workers}")
    clock = clock_from_env(dict(os.environ))
    engine = make_engine(settings.database_url)
    if workers > 1 and is_sqlite(engine):
        raise fail(
            f"TOCSIN_WORKERS={workers} (or --workers {workers}) needs PostgreSQL: a SQLite database must have "
            "exactly one writing process. Set TOCSIN_WORKERS=1, or TOCSIN_DATABASE_URL to a PostgreSQL database."
        )
    if migrations.pending(engine):
        raise fail("the database schema is not up to date: run `tocsin migrate` first")
    # First start happens here, once, before any worker runs.
    with make_sessionmaker(engine)() as session:
        try:
            started = bootstrap.first_start(session, clock.now(), settings.admin_email)
            session.commit()
        except IntegrityError:  # another process created the admin at the same moment
            session.rollback()
            started = None
    engine.dispose()
    if started is not None:
        # Printed once, to the terminal, never to the logs.
        console.print(
            f"\n[bold]First start.[/bold] Created admin {started.admin_email}.\n"
            f"Admin API token (shown once, store it now):\n\n  {started.token}\n\n"
            f"  export TOCSIN_URL=http://{host or settings.host}:{port or settings.port}\n"
            f"  export TOCSIN_TOKEN={started.token}\n",
            highlight=False,
            soft_wrap=True,
        )
        sys.stdout.flush()
    # Each worker builds its own app from the environment (tocsin.app.from_env):
    # it must see the worker count this process settled on.
    os.environ["TOCSIN_WORKERS"] = str(workers)
    uvicorn.run(
        "tocsin.app:from_env",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
    )


token_app = typer.Typer(help="API tokens (local: works on the database directly).", no_args_is_help=True)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="E-mail of the token's owner")],
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    scope: Annotated[str, typer.Option(help="read, write or admin")] = "write",
) -> None:
    """Create an API token and print it once."""
    from tocsin.errors import TocsinError
    from tocsin.services import tokens
    from tocsin.services.actor import Actor
    from tocsin.storage.db import make_engine, make_sessionmaker

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    clock = clock_from_env(dict(os.environ))
    with make_sessionmaker(engine)() as session:
        try:
            issued = tokens.create(session, Actor.system("cli"), clock.now(), user_email=user, name=name, scope=scope)
        except TocsinError as exc:
            raise fail(exc.message) from None
        session.commit()
    console.print(issued.secret, highlight=False, soft_wrap=True)
