"""`tocsin postmortem` and `tocsin action-item`: the follow-up of a resolved incident.

`--json` on listings prints the server's answer as-is; tables and rendered Markdown are for people.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import EXIT_CONFIG, Json, segment
from tocsin.cli.remote import AsJson, _fail, _server

postmortem_app = typer.Typer(help="Postmortems: drafted when an incident resolves.", no_args_is_help=True)
template_app = typer.Typer(help="The postmortem template (admins edit it).", no_args_is_help=True)
action_item_app = typer.Typer(help="Action items: what an incident taught, owned and due.", no_args_is_help=True)
postmortem_app.add_typer(template_app, name="template")

Ref = Annotated[str, typer.Argument(help="Incident id: INC-2026-11-23-001 or its number")]
ItemId = Annotated[str, typer.Argument(help="Action item number")]


def _path(ref: str) -> str:
    return f"/api/v1/postmortems/{segment(ref.strip())}"


def _read_file(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror or exc}", EXIT_CONFIG) from None


def _status(status: str) -> str:
    return status.replace("_", " ")


def _summary(postmortem: Json) -> str:
    due = output.when(postmortem["due_at"]) if postmortem["due_at"] else "no due date"
    overdue = " [red]overdue[/red]" if postmortem["overdue"] else ""
    reviewers = ", ".join(r["name"] + (" ✓" if r["approved_at"] else "") for r in postmortem["reviewers"])
    return (
        f"[bold]{postmortem['incident']}[/bold]  {escape(postmortem['severity'])} · {_status(postmortem['status'])}"
        f"{overdue}\n{escape(postmortem['incident_title'])}\n"
        f"[dim]Due {due} · Reviewers: {escape(reviewers or output.NONE)}[/dim]"
    )


@postmortem_app.command("list")
def list_postmortems(
    status: Annotated[str | None, typer.Option(help="draft, in_review or published")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 50,
    as_json: AsJson = False,
) -> None:
    """List postmortems, newest first."""
    with _server() as api:
        page: Json = api.get("/api/v1/postmortems", status=status, limit=limit)
    if as_json:
        output.print_json(page)
        return
    out = output.console()
    if not page["items"]:
        out.print("No postmortems.")
        return
    grid = output.table("Incident", "Sev", "Status", "Title", "Due", "Reviewers", keys=3)
    for item in page["items"]:
        due = output.when(item["due_at"]) if item["due_at"] else output.NONE
        if item["overdue"]:
            due = f"[red]{due} (overdue)[/red]"
        grid.add_row(
            item["incident"],
            escape(item["severity"]),
            _status(item["status"]),
            escape(item["incident_title"]),
            due,
            escape(output.joined(r["user"] for r in item["reviewers"])),
        )
    out.print(grid)


@postmortem_app.command("show")
def show(ref: Ref, as_json: AsJson = False) -> None:
    """Show a postmortem, its Markdown rendered."""
    with _server() as api:
        postmortem: Json = api.get(_path(ref))
    if as_json:
        output.print_json(postmortem)
        return
    out = output.console()
    out.print(_summary(postmortem))
    out.print()
    out.print(Markdown(postmortem["body"]))


@postmortem_app.command("create")
def create(ref: Ref, as_json: AsJson = False) -> None:
    """Draft a postmortem for a resolved incident that has none (e.g. a P3)."""
    with _server() as api:
        made: Json = api.post("/api/v1/postmortems", {"incident": ref.strip()})
    if as_json:
        output.print_json(made)
        return
    output.say(f"Drafted the postmortem of {made['incident']}")


@postmortem_app.command("edit")
def edit(
    ref: Ref,
    file: Annotated[str, typer.Option("--file", "-f", help="Markdown file with the new body; - for stdin")],
    as_json: AsJson = False,
) -> None:
    """Replace a postmortem's body with a file's Markdown (export it, edit it, send it back)."""
    body = _read_file(file)
    with _server() as api:
        saved: Json = api.put(f"{_path(ref)}/body", {"body": body})
    if as_json:
        output.print_json(saved)
        return
    output.say(f"Saved the postmortem of {saved['incident']} ({len(body)} characters)")


@postmortem_app.command("review")
def review(
    ref: Ref,
    reviewer: Annotated[list[str] | None, typer.Option("--reviewer", "-r", help="E-mail of a reviewer; repeat")] = None,
    back: Annotated[bool, typer.Option("--back", help="Send it back from review to draft")] = False,
    approve: Annotated[bool, typer.Option("--approve", help="Approve it, as one of its reviewers")] = False,
    as_json: AsJson = False,
) -> None:
    """Send a postmortem for review (adding reviewers), approve it, or send it back to draft."""
    if back and approve:
        raise _fail("give --back or --approve, not both", EXIT_CONFIG)
    with _server() as api:
        if back:
            answer: Json = api.post(f"{_path(ref)}/draft", {})
        elif approve:
            answer = api.post(f"{_path(ref)}/approve", {})
        else:
            answer = api.post(f"{_path(ref)}/review", {"reviewers": reviewer or []})
    if as_json:
        output.print_json(answer)
        return
    if approve:
        output.say(f"Approved the postmortem of {answer['incident']}")
    else:
        names = ", ".join(r["user"] for r in answer["reviewers"]) or output.NONE
        output.say(f"The postmortem of {answer['incident']} is {_status(answer['status'])}; reviewers: {names}")


@postmortem_app.command("publish")
def publish(
    ref: Ref,
    status_page: Annotated[
        bool, typer.Option("--status-page", help="Also post a summary as a public update (never for drills)")
    ] = False,
    summary: Annotated[str | None, typer.Option(help="The public summary; default: the Summary section")] = None,
    as_json: AsJson = False,
) -> None:
    """Publish a reviewed postmortem."""
    body: Json = {"status_page": status_page}
    if summary is not None:
        body["summary"] = summary
    with _server() as api:
        published: Json = api.post(f"{_path(ref)}/publish", body)
    if as_json:
        output.print_json(published)
        return
    extra = " and posted its summary to the status page" if published["public_summary"] else ""
    output.say(f"Published the postmortem of {published['incident']}{extra}")


@postmortem_app.command("export")
def export(
    ref: Ref,
    directory: Annotated[Path, typer.Option("--dir", help="Where to write it")] = Path("reports/incidents"),
    stdout: Annotated[bool, typer.Option("--stdout", help="Print the Markdown instead of writing a file")] = False,
) -> None:
    """Write a postmortem as Markdown, e.g. reports/incidents/2026-11-22-checkout-500s.md."""
    with _server() as api:
        postmortem: Json = api.get(_path(ref))
        text = api.text(f"{_path(ref)}.md")
    if stdout:
        typer.echo(text, nl=False)
        return
    target = directory / str(postmortem["export_name"])
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {target}: {exc.strerror or exc}", EXIT_CONFIG) from None
    output.say(f"Wrote {target}")


@template_app.command("show")
def template_show(as_json: AsJson = False) -> None:
    """Print the postmortem template in use."""
    with _server() as api:
        shown: Json = api.get("/api/v1/postmortem-template")
    if as_json:
        output.print_json(shown)
        return
    typer.echo(shown["body"], nl=False)


@template_app.command("set")
def template_set(
    file: Annotated[str, typer.Option("--file", "-f", help="Jinja2 Markdown template; - for stdin")],
) -> None:
    """Replace the postmortem template (admins); a template that does not parse is refused."""
    with _server() as api:
        api.put("/api/v1/postmortem-template", {"body": _read_file(file)})
    output.say("Saved the postmortem template")


@template_app.command("reset")
def template_reset() -> None:
    """Go back to the template that ships with Tocsin."""
    with _server() as api:
        api.delete("/api/v1/postmortem-template")
    output.say("The postmortem template is the shipped default again")


# ---- action items -----------------------------------------------------------------------------


def _items_table(page: Json) -> None:
    out = output.console()
    items: list[Json] = page["items"]
    if not items:
        out.print("No action items.")
        return
    grid = output.table("#", "Pri", "Status", "Title", "Owner", "Due", "Incident", "Issue", keys=2)
    for item in items:
        due = output.when(item["due_at"])
        if item["overdue"]:
            due = f"[red]{due} (overdue)[/red]"
        grid.add_row(
            str(item["id"]),
            item["priority"],
            _status(item["status"]),
            escape(item["title"]),
            escape(item["owner_name"] or output.NONE),
            due,
            item["incident"],
            escape(item["github_issue_url"] or ""),
        )
    out.print(grid)


@action_item_app.command("list")
def list_items(
    incident: Annotated[str | None, typer.Option(help="Only this incident's items")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's items (e-mail)")] = None,
    status: Annotated[str | None, typer.Option(help="open (default), all, or statuses separated by commas")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only items past their due date")] = False,
    limit: Annotated[int, typer.Option(help="At most this many")] = 100,
    as_json: AsJson = False,
) -> None:
    """List action items, soonest due first."""
    with _server() as api:
        page: Json = api.get(
            "/api/v1/action-items",
            incident=incident,
            owner=owner,
            status=status,
            overdue="true" if overdue else None,
            limit=limit,
        )
    if as_json:
        output.print_json(page)
    else:
        _items_table(page)


def _due(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _fail(
            f"--due: {value!r} is not a date or time (e.g. 2026-12-24 or 2026-12-24T12:00Z)", EXIT_CONFIG
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=output.now().tzinfo)
    return parsed.isoformat()


@action_item_app.command("add")
def add(
    incident: Ref,
    title: Annotated[str, typer.Option(help="What to do")],
    priority: Annotated[str, typer.Option(help="P0 (due in 48 h), P1 (1 week), P2 (2 weeks), P3 (30 days)")],
    owner: Annotated[str | None, typer.Option(help="E-mail of the owner")] = None,
    due: Annotated[str | None, typer.Option(help="Due date (ISO 8601, UTC unless given); default by priority")] = None,
    description: Annotated[str, typer.Option(help="More detail")] = "",
    as_json: AsJson = False,
) -> None:
    """Add an action item to an incident."""
    body: Json = {"incident": incident.strip(), "title": title, "priority": priority, "description": description}
    if owner:
        body["owner"] = owner
    if due is not None:
        body["due_at"] = _due(due)
    with _server() as api:
        made: Json = api.post("/api/v1/action-items", body)
    if as_json:
        output.print_json(made)
        return
    output.say(f"Added action item #{made['id']} ({made['priority']}), due {output.when(made['due_at'])}")


@action_item_app.command("show")
def show_item(item_id: ItemId, as_json: AsJson = False) -> None:
    """Show one action item."""
    with _server() as api:
        item: Json = api.get(f"/api/v1/action-items/{segment(item_id.strip())}")
    if as_json:
        output.print_json(item)
        return
    _items_table({"items": [item]})
    if item["description"]:
        output.console().print(f"\n{escape(item['description'])}")


@action_item_app.command("edit")
def edit_item(
    item_id: ItemId,
    title: Annotated[str | None, typer.Option(help="What to do")] = None,
    priority: Annotated[str | None, typer.Option(help="A new priority moves the default due date")] = None,
    owner: Annotated[str | None, typer.Option(help='E-mail of the owner; "" for none')] = None,
    due: Annotated[str | None, typer.Option(help="Due date (ISO 8601)")] = None,
    description: Annotated[str | None, typer.Option(help="More detail")] = None,
    as_json: AsJson = False,
) -> None:
    """Change an action item."""
    body: Json = {
        k: v
        for k, v in {"title": title, "priority": priority, "owner": owner, "description": description}.items()
        if v is not None
    }
    if due is not None:
        body["due_at"] = _due(due)
    _patch(item_id, body, as_json, "Saved")


def _patch(item_id: str, body: Json, as_json: bool, verb: str) -> None:
    with _server() as api:
        item: Json = api.patch(f"/api/v1/action-items/{segment(item_id.strip())}", body)
    if as_json:
        output.print_json(item)
        return
    output.say(f"{verb} action item #{item['id']}: {item['title']} ({_status(item['status'])})")


@action_item_app.command("start")
def start(item_id: ItemId, as_json: AsJson = False) -> None:
    """Mark an action item in progress."""
    _patch(item_id, {"status": "in_progress"}, as_json, "Started")


@action_item_app.command("done")
def done(item_id: ItemId, as_json: AsJson = False) -> None:
    """Mark an action item done (its GitHub issue, if any, is closed)."""
    _patch(item_id, {"status": "done"}, as_json, "Finished")


@action_item_app.command("wont-do")
def wont_do(item_id: ItemId, as_json: AsJson = False) -> None:
    """Decide not to do an action item."""
    _patch(item_id, {"status": "wont_do"}, as_json, "Dropped")


@action_item_app.command("reopen")
def reopen(item_id: ItemId, as_json: AsJson = False) -> None:
    """Open a finished action item again."""
    _patch(item_id, {"status": "open"}, as_json, "Reopened")


def register(app: typer.Typer) -> None:
    app.add_typer(postmortem_app, name="postmortem")
    app.add_typer(action_item_app, name="action-item")
