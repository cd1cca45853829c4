"""`tocsin runbook` (the runbooks incidents get their checklists from) and, under `tocsin incident`,
`checklist`, `tick`, `untick` and `handoff`.

Runbooks are written in tocsin.yaml (`tocsin apply`) or through the API; the CLI reads them.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import EXIT_CONFIG, Json, segment
from tocsin.cli.remote import AsJson, Ref, _fail, _incident_path, _read, _server, incident_app

runbook_app = typer.Typer(help="Runbooks: the checklists incidents get, by service and severity.", no_args_is_help=True)

Item = Annotated[str, typer.Argument(help="The item's number, as `tocsin incident checklist` shows it")]


def _applies(values: list[str] | str) -> str:
    return "all" if values == "all" else ", ".join(values)


def runbooks_table(runbooks: list[Json]) -> None:
    grid = output.table("Runbook", "Name", "Services", "Severities", "Items")
    for runbook in runbooks:
        items = sum(len(phase["items"]) for phase in runbook["phases"])
        name = escape(runbook["name"]) + (" (shipped default)" if runbook["shipped"] else "")
        grid.add_row(runbook["key"], name, _applies(runbook["services"]), _applies(runbook["severities"]), str(items))
    output.console().print(grid)


def show_runbook(runbook: Json) -> None:
    out = output.console()
    out.print(f"[bold]{escape(runbook['name'])}[/bold] ({escape(runbook['key'])})")
    out.print(
        f"Services: {escape(_applies(runbook['services']))}   Severities: {escape(_applies(runbook['severities']))}"
    )
    for link in runbook["links"]:
        out.print(f"Link: {escape(link['title'])} {escape(link['url'])}")
    for phase in runbook["phases"]:
        frame = f" ({escape(phase['time_frame'])})" if phase["time_frame"] else ""
        out.print(f"\n[bold]{escape(phase['name'])}[/bold]{frame}")
        for item in phase["items"]:
            role = f" [dim]— {escape(item['role'])}[/dim]" if item["role"] else ""
            out.print(f"  • {escape(item['text'])}{role}")


def checklist_text(checklist: Json) -> None:
    out = output.console()
    if checklist["runbook"] is None:
        out.print(f"{checklist['incident']} has no checklist (it was declared before runbooks).")
        return
    out.print(
        f"[bold]{checklist['incident']}[/bold] — {escape(checklist['runbook_name'])} ({escape(checklist['runbook'])}): "
        f"{checklist['done']} of {checklist['total']} done"
    )
    for link in checklist["links"]:
        out.print(f"Link: {escape(link['title'])} {escape(link['url'])}")
    for phase in checklist["phases"]:
        frame = f" ({escape(phase['time_frame'])})" if phase["time_frame"] else ""
        out.print(f"\n[bold]{escape(phase['name'])}[/bold]{frame}")
        for item in phase["items"]:
            box = f"[green]{escape('[x]')}[/green]" if item["ticked"] else escape("[ ]")
            role = f" [dim]— {escape(item['role'])}[/dim]" if item["role"] else ""
            by = (
                f" [dim](ticked by {escape(item['ticked_by'])} {output.when(item['ticked_at'])})[/dim]"
                if item["ticked"]
                else ""
            )
            out.print(f"  {box} {item['id']:>2}. {escape(item['text'])}{role}{by}")


@runbook_app.command("list")
def list_runbooks(as_json: AsJson = False) -> None:
    """List the runbooks, and the shipped default incidents get when none fits."""
    _read("/api/v1/runbooks", as_json, runbooks_table)


@runbook_app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="The runbook's key; `default` for the shipped one")],
    as_json: AsJson = False,
) -> None:
    """Show a runbook's phases, items and links."""
    _read(f"/api/v1/runbooks/{segment(key.strip())}", as_json, show_runbook)


def checklist(ref: Ref, as_json: AsJson = False) -> None:
    """Show an incident's checklist by phase: what is done, by whom, and what is left."""
    _read(_incident_path(ref, "checklist"), as_json, checklist_text)


def _tick(ref: str, item: str, action: str, as_json: bool) -> None:
    if not item.strip().isdigit():
        raise _fail(f"{item!r} is not an item number; `tocsin incident checklist {ref}` shows them", EXIT_CONFIG)
    with _server() as api:
        done: Json = api.post(_incident_path(ref, f"checklist/{item.strip()}/{action}"), {})
    if as_json:
        output.print_json(done)
        return
    output.say(f"{'Ticked' if done['ticked'] else 'Unticked'} item {done['id']} of {ref.strip()}: {done['text']}")


def tick(ref: Ref, item: Item, as_json: AsJson = False) -> None:
    """Tick a checklist item (its role's holder, the commander or an admin may); it goes on the timeline."""
    _tick(ref, item, "tick", as_json)


def untick(ref: Ref, item: Item, as_json: AsJson = False) -> None:
    """Untick a checklist item ticked by mistake."""
    _tick(ref, item, "untick", as_json)


def handoff(
    ref: Ref,
    role: Annotated[str, typer.Option(help="The role handed over, e.g. commander")],
    to: Annotated[str, typer.Option("--to", help="E-mail of the person taking it")],
    status: Annotated[str, typer.Option(help="Briefing: where things stand")] = "",
    actions: Annotated[str, typer.Option(help="Briefing: the actions taken so far")] = "",
    hypothesis: Annotated[str, typer.Option(help="Briefing: the current hypothesis")] = "",
    as_json: AsJson = False,
) -> None:
    """Hand a role over with a briefing; the new holder is sent it, and it goes on the timeline."""
    body: Json = {"role": role, "user": to}
    if status or actions or hypothesis:
        body["briefing"] = {"status": status, "actions_taken": actions, "hypothesis": hypothesis}
    with _server() as api:
        incident: Json = api.post(_incident_path(ref, "roles"), body)
    if as_json:
        output.print_json(incident)
        return
    holder = incident["roles"].get(role, {"name": to, "user": to})
    briefed = " with a briefing" if "briefing" in body else ""
    output.say(f"Handed {role} of {incident['human_id']} to {holder['name']} <{holder['user']}>{briefed}.")


def register(app: typer.Typer) -> None:
    app.add_typer(runbook_app, name="runbook")
    incident_app.command("checklist")(checklist)
    incident_app.command("tick")(tick)
    incident_app.command("untick")(untick)
    incident_app.command("handoff")(handoff)
