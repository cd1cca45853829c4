"""`tocsin template`: the message templates (internal declaration, update, resolution, customer
notice and resolution, support briefing): list, show, edit from a file, reset, preview."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import Json, segment
from tocsin.cli.remote import AsJson, _fail, _moved, _read, _server

template_app = typer.Typer(help="Message templates for incident updates and notices.", no_args_is_help=True)

API = "/api/v1/templates"
Key = Annotated[str, typer.Argument(metavar="KEY", help="The template's key, e.g. customer_notice")]


def _list(answer: Json) -> None:
    grid = output.table("KEY", "NAME", "AUDIENCE", "EDITED")
    for item in answer["items"]:
        edited = f"by {item['updated_by'] or '?'} {output.when(item['updated_at'])}" if item["edited"] else "-"
        grid.add_row(escape(item["key"]), escape(item["name"]), item["audience"], escape(edited))
    output.console().print(grid)


def _show(item: Json) -> None:
    out = output.console()
    state = "edited" if item["edited"] else "the shipped default"
    out.print(f"[bold]{escape(item['key'])}[/bold]  {escape(item['name'])} · {item['audience']} · {state}")
    out.print(escape(item["body"]), end="", markup=False, highlight=False)


@template_app.command("list")
def list_templates(as_json: AsJson = False) -> None:
    """List the templates and whether each was edited."""
    _read(API, as_json, _list)


@template_app.command("show")
def show(key: Key, as_json: AsJson = False) -> None:
    """Print a template's body."""
    _read(f"{API}/{segment(key)}", as_json, _show)


@template_app.command("edit")
def edit(
    key: Key,
    file: Annotated[Path, typer.Option("--file", "-f", help="The new body (use - for stdin)")],
    as_json: AsJson = False,
) -> None:
    """Replace a template's body (admins); refused, naming the line, when it does not render."""
    try:
        body = typer.get_text_stream("stdin").read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}", 2) from None
    with _server() as api:
        saved: Json = api.put(f"{API}/{segment(key)}", {"body": body})
    _moved(saved, as_json, f"Saved template {saved['key']}.")


@template_app.command("reset")
def reset(key: Key, as_json: AsJson = False) -> None:
    """Go back to the shipped default (admins)."""
    with _server() as api:
        saved: Json = api.delete(f"{API}/{segment(key)}")
    _moved(saved, as_json, f"Template {saved['key']} is the shipped default again.")


@template_app.command("preview")
def preview(
    key: Key,
    incident: Annotated[str | None, typer.Option("--incident", help="Fill it from this incident, not a sample")] = None,
    as_json: AsJson = False,
) -> None:
    """Print a template filled from an incident (or from a sample incident)."""
    with _server() as api:
        answer: Json = api.post(f"{API}/{segment(key)}/preview", {"incident": incident})
    if as_json:
        output.print_json(answer)
        return
    output.console().print(answer["text"], end="", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(template_app, name="template")
