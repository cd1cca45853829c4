"""Commands that work on the database directly: serve, migrate, token create.

The server, SQLAlchemy and Alembic are imported inside the commands: every
`tocsin` invocation loads this module, and remote commands should start fast.
"""

from __future__ import annotations

import os
import subprocess
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
        int | None,
        typer.Option(help="HTTP server processes (TOCSIN_WORKERS); on SQLite, more than one adds a writer process"),
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
    one_writer = workers > 1 and is_sqlite(engine)
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
            f"Web app: {settings.public_url}/login as {started.admin_email}, password (shown once):\n\n"
            f"  {started.password}\n\n"
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
    writer = WriterProcess() if one_writer else None
    try:
        if writer is not None:
            # Set before uvicorn spawns the workers, which read it in tocsin.app.from_env.
            os.environ["TOCSIN_INGEST_SOCKET"] = writer.start()
        uvicorn.run(
            "tocsin.app:from_env",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_config=None,
            access_log=False,
        )
    finally:
        if writer is not None:
            writer.stop()


class WriterProcess:
    """The ingest writer process beside SQLite HTTP workers (tocsin.api.ingest_process),
    started again if it dies: the workers answer 503 until it is back."""

    def __init__(self) -> None:
        import tempfile
        import threading

        # Only this user may open the directory: the socket carries pickles.
        self.directory = tempfile.mkdtemp(prefix="tocsin-")
        self.path = os.path.join(self.directory, "ingest.sock")
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watch = threading.Thread(target=self._keep_running, name="tocsin-writer-watch", daemon=True)

    def start(self) -> str:
        self._spawn()
        self._watch.start()
        return self.path

    def _spawn(self) -> None:
        import time

        if os.path.exists(self.path):
            os.unlink(self.path)
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tocsin", "ingest-writer", "--socket", self.path]
        )
        deadline = time.monotonic() + 30
        while not os.path.exists(self.path):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise fail("the ingest writer process did not start; see its log above")
            time.sleep(0.02)

    def _keep_running(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is not None and process.poll() is not None and not self._stopping.is_set():
                err.print(f"[yellow]ingest writer exited ({process.returncode}); starting it again[/yellow]")
                self._spawn()
            self._stopping.wait(0.5)

    def stop(self) -> None:
        import shutil

        self._stopping.set()
        if self._process is not None and self._process.poll() is None:
            # SIGTERM: it commits what is queued and stops its engine after the cycle in progress.
            self._process.terminate()
            try:
                self._process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self._process.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


def ingest_writer(
    socket: Annotated[str, typer.Option(help="Unix socket to serve the HTTP workers on")],
) -> None:
    """Internal: the ingest writer process `tocsin serve --workers N` starts on SQLite."""
    from tocsin.app import writer_main

    writer_main(socket)


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


user_app = typer.Typer(help="Users (local: works on the database directly).", no_args_is_help=True)


@user_app.command("set-password")
def user_set_password(
    email: Annotated[str, typer.Argument(help="The user's e-mail")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (else one is generated)")
    ] = False,
) -> None:
    """Set a user's web password (printed when generated) and end their web sessions."""
    from tocsin.errors import TocsinError
    from tocsin.services import passwords
    from tocsin.services.actor import Actor
    from tocsin.storage.db import make_engine, make_sessionmaker

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else passwords.generate()
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    clock = clock_from_env(dict(os.environ))
    with make_sessionmaker(engine)() as session:
        try:
            passwords.set_password(session, Actor.system("cli"), clock.now(), email, password)
        except TocsinError as exc:
            raise fail(exc.message) from None
        session.commit()
    if password_stdin:
        console.print(f"Password set for {email}.", highlight=False)
    else:
        console.print(password, highlight=False, soft_wrap=True)
