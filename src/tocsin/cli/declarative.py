"""Config as code: `tocsin validate` and `tocsin apply`.

Both are local: `validate` reads only the file; `apply` works on the database
named by TOCSIN_DATABASE_URL, like `tocsin migrate`. Exit codes: 0 done (or
nothing to change), 1 the file is invalid or cannot be applied; every problem
is printed as `file:line: field: message` on stderr.

An integration that `apply` creates without `key_env` gets a new key, printed
once after the commit (and under `keys` with --json): nothing can show it again.
A heartbeat it creates gets its ping URL printed the same way (`tocsin heartbeat
show` shows it again: a ping URL is a key, not a password).

SQLAlchemy and the services are imported inside `apply`: every `tocsin`
invocation loads this module, and `validate` needs no database.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from tocsin.clock import from_env as clock_from_env
from tocsin.config import Settings
from tocsin.config_file import Config, InvalidConfig, load, schema
from tocsin.errors import TocsinError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tocsin.services.config_apply import Change, FieldChange, IssuedKey, Plan, Value

FileOption = Annotated[
    Path, typer.Option("--file", "-f", help="The config file; '-' reads standard input", show_default=True)
]
_SIGNS = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}


def _out() -> Console:
    # Built per command, not at import, so the stream and width are this invocation's.
    return Console(highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(lines: list[str]) -> typer.Exit:
    err = _err()
    for line in lines:
        err.print(escape(line), soft_wrap=True)
    return typer.Exit(1)


def _load(path: Path) -> Config:
    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _fail([f"{name}: cannot read the file: {reason}"]) from None
    try:
        return load(text, name)
    except InvalidConfig as exc:
        raise _fail([issue.render(name) for issue in exc.issues]) from None


def validate(file: FileOption = Path("tocsin.yaml")) -> None:
    """Check a config file without touching the database."""
    config = _load(file)
    document = config.document
    counts = [
        (len(document.severities.schemes or ()) if document.severities else None, "severity scheme"),
        (len(document.roles) if document.roles is not None else None, "role"),
        (len(document.teams) if document.teams is not None else None, "team"),
        (len(document.users) if document.users is not None else None, "user"),
        (len(document.services) if document.services is not None else None, "service"),
        (len(document.integrations) if document.integrations is not None else None, "integration"),
        (sum(len(r.rules) for r in document.routes) if document.routes is not None else None, "routing rule"),
        (len(document.maintenance_windows) if document.maintenance_windows is not None else None, "maintenance window"),
        (len(document.schedules) if document.schedules is not None else None, "schedule"),
        (
            len(document.escalation_policies) if document.escalation_policies is not None else None,
            "escalation policy",
        ),
        (len(document.channels) if document.channels is not None else None, "channel"),
        (len(document.heartbeats) if document.heartbeats is not None else None, "heartbeat"),
        (len(document.checks) if document.checks is not None else None, "check"),
        (len(document.runbooks) if document.runbooks is not None else None, "runbook"),
    ]
    page = document.status_page
    if page is not None:
        counts += [
            (len(page.groups) if page.groups is not None else None, "status page group"),
            (len(page.components) if page.components is not None else None, "status page component"),
        ]
    declared = ", ".join(_count(n, what) for n, what in counts if n is not None)
    out = _out()
    out.print(f"{escape(config.filename)} is valid: {declared or 'it declares nothing'}", soft_wrap=True)
    external = [ref for ref in schema.references(document) if not ref.declared]
    if external:
        # Not errors: the objects may exist already. `tocsin apply` checks them.
        out.print("Not declared in the file; `tocsin apply` looks for them in the database:", soft_wrap=True)
        for ref in external:
            where = f"{config.filename}:{config.source.line_of(ref.path)}"
            out.print(f"  {escape(where)}: {ref.kind} {escape(ref.key)!r}", soft_wrap=True)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what[:-1]}ies" if what.endswith("y") else f"{n} {what}s"


def apply(
    file: FileOption = Path("tocsin.yaml"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and change nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON")] = False,
) -> None:
    """Make the database match a config file: print the plan, then apply it in one transaction."""
    from sqlalchemy.exc import SQLAlchemyError

    from tocsin.storage.db import make_engine

    config = _load(file)
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    try:
        _apply(engine, config, dry_run=dry_run, as_json=as_json)
    except SQLAlchemyError as exc:
        raise _fail([f"error: cannot use the database: {str(exc).splitlines()[0]}"]) from None
    finally:
        engine.dispose()


def _apply(engine: Engine, config: Config, *, dry_run: bool, as_json: bool) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from tocsin.services import config_apply
    from tocsin.storage import migrate as migrations
    from tocsin.storage.db import make_sessionmaker

    if migrations.pending(engine):
        raise _fail(["error: the database schema is not up to date: run `tocsin migrate` first"])
    now = clock_from_env(dict(os.environ)).now()
    with make_sessionmaker(engine)() as session:
        try:
            planned = config_apply.plan(session, config.document, now=now, env=os.environ)
        except InvalidConfig as exc:
            raise _fail(config.render(exc.issues)) from None
        if not as_json:
            _print_plan(config.filename, planned, dry_run=dry_run)
        applied = False
        keys: list[IssuedKey] = []
        if not dry_run and not planned.empty:
            try:
                keys = config_apply.execute(session, config_apply.APPLY_ACTOR, now, planned)
                session.commit()
            except InvalidConfig as exc:
                session.rollback()
                raise _fail(config.render(exc.issues)) from None
            except (TocsinError, SQLAlchemyError) as exc:
                # Something changed under us since planning; the rollback undoes every step.
                session.rollback()
                message = exc.message if isinstance(exc, TocsinError) else str(exc).splitlines()[0]
                raise _fail([f"error: nothing was applied: {message}"]) from None
            applied = True
        if as_json:
            document = {
                "file": config.filename,
                "dry_run": dry_run,
                "applied": applied,
                **planned.as_json(),
                "keys": [
                    {"service": k.service, "name": k.name, "kind": k.kind, "key": k.key, "url": _url(k)} for k in keys
                ],
            }
            typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        elif applied:
            count = len(planned.steps)
            _out().print(f"Applied {count} change{'s' if count != 1 else ''}.")
            _print_keys(keys)


def _url(issued: IssuedKey) -> str:
    """Where the sender posts: the address people reach Tocsin at (TOCSIN_PUBLIC_URL, as the
    server's own links), else the server `tocsin login` or TOCSIN_URL names, if any."""
    from tocsin.cli.client import CliError, server_url
    from tocsin.services.integrations import sentry_dsn
    from tocsin.services.integrations import urls as integration_urls

    base = os.environ.get("TOCSIN_PUBLIC_URL", "").strip()
    if not base:
        try:
            base = server_url() or "$TOCSIN_URL"
        except CliError:
            base = "$TOCSIN_URL"
    if issued.kind == "heartbeat":
        return f"{base.rstrip('/')}/ping/{issued.key}"
    if issued.kind == "sentry" and issued.integration_id is not None:
        # A DSN goes into code as it is: it needs a real address.
        if "://" not in base:
            return f"https://{issued.key}@<tocsin host>/{issued.integration_id}"
        return sentry_dsn(base, issued.key, issued.integration_id)
    return next(iter(integration_urls(base, issued.kind, issued.key).values()))


def _print_keys(keys: list[IssuedKey]) -> None:
    out = _out()
    for issued in keys:
        if issued.kind == "heartbeat":
            # The uuid stays the same on every later apply; only now is it printed without asking.
            out.print(f"\n[bold]Ping URL of new heartbeat {escape(issued.name)}[/bold]:", soft_wrap=True)
            out.print(f"  {escape(_url(issued))}", soft_wrap=True)
            continue
        out.print(
            f"\n[bold]New key of integration {escape(issued.service)}/{escape(issued.name)}[/bold] "
            "(shown only now; keep it like a password):",
            soft_wrap=True,
        )
        out.print(f"  {issued.key}", soft_wrap=True)
        out.print(f"  {escape(issued.kind)}: {escape(_url(issued))}", soft_wrap=True)


def _print_plan(filename: str, planned: Plan, *, dry_run: bool) -> None:
    out = _out()
    if planned.empty:
        out.print(f"No changes: the database matches {escape(filename)}.", soft_wrap=True)
        return
    summary = ", ".join(
        f"{planned.count(action)} to {action}" for action in ("create", "update", "delete") if planned.count(action)
    )
    out.print(
        f"[bold]Plan[/bold] for {escape(filename)}: {summary}" + (" (dry run)" if dry_run else ""), soft_wrap=True
    )
    for change in planned.changes:
        _print_change(out, change)


def _print_change(out: Console, change: Change) -> None:
    sign, colour = _SIGNS[change.action]
    note = f"  [dim]({escape(change.note)})[/dim]" if change.note else ""
    out.print(f"[{colour}]{sign} {escape(change.kind)} {escape(change.key)}[/{colour}]{note}", soft_wrap=True)
    for item in change.fields:
        out.print(f"    {escape(_field_line(change, item))}", soft_wrap=True)


def _field_line(change: Change, item: FieldChange) -> str:
    if change.action == "create":
        return f"{item.field}: {_show(item.new)}"
    return f"{item.field}: {_show(item.old)} → {_show(item.new)}"


def _show(value: Value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value) if value else "(none)"
    if isinstance(value, str):
        text = value if value else '""'
        first = text.splitlines()[0] if text.strip() else text
        return first[:77] + "…" if len(first) > 80 or first != text else first
    return str(value)


def register(app: typer.Typer) -> None:
    """Add validate and apply to the `tocsin` app."""
    app.command()(validate)
    app.command()(apply)
