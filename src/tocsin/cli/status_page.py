"""`tocsin status-page`: the public status page's components, groups and scheduled maintenance,
over HTTP like the other remote commands. `--json` on listings prints the server's answer."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import Json, segment
from tocsin.cli.remote import AsJson, _moved, _read, _server

status_page_app = typer.Typer(help="The public status page: components, groups and maintenance.", no_args_is_help=True)
component_app = typer.Typer(help="Components: what customers see as working or not.", no_args_is_help=True)
group_app = typer.Typer(help="Component groups.", no_args_is_help=True)
maintenance_app = typer.Typer(help="Scheduled maintenance announced on the page.", no_args_is_help=True)
subscriber_app = typer.Typer(help="Who is told of public updates (admins).", no_args_is_help=True)

API = "/api/v1/status-page"
STATUSES = "operational, degraded_performance, partial_outage, major_outage, under_maintenance"
Key = Annotated[str, typer.Argument(metavar="KEY", help="The component's key")]


def _components(components: list[Json]) -> None:
    if not components:
        output.say("No components.")
        return
    grid = output.table("KEY", "NAME", "GROUP", "SERVICES", "CHECKS", "SET BY HAND")
    for c in components:
        grid.add_row(
            escape(c["key"]),
            escape(c["name"]),
            escape(c["group"] or "-"),
            escape(", ".join(c["services"]) or "-"),
            escape(", ".join(c["checks"]) or "-"),
            c["status_override"] or "-",
        )
    output.console().print(grid)


@component_app.command("list")
def list_components(as_json: AsJson = False) -> None:
    """List the page's components."""
    _read(f"{API}/components", as_json, _components)


@component_app.command("create")
def create_component(
    key: Key,
    name: Annotated[str, typer.Option(help="What the page calls it")],
    description: Annotated[str, typer.Option(help="A line under its name")] = "",
    group: Annotated[str | None, typer.Option(help="A component group's key")] = None,
    position: Annotated[int, typer.Option(help="Its place on the page (smaller first)")] = 0,
    service: Annotated[
        list[str] | None, typer.Option(help="An incident on this service affects it (repeatable)")
    ] = None,
    check: Annotated[list[str] | None, typer.Option(help="This check down affects it (repeatable)")] = None,
    as_json: AsJson = False,
) -> None:
    """Create a component."""
    body: Json = {
        "key": key, "name": name, "description": description, "group": group, "position": position,
        "services": service or [], "checks": check or [],
    }  # fmt: skip
    with _server() as api:
        created: Json = api.post(f"{API}/components", body)
    _moved(created, as_json, f"Created component {created['key']} ({created['name']}).")


@component_app.command("set-status")
def set_status(
    key: Key,
    status: Annotated[str, typer.Argument(help=f"One of {STATUSES}, or 'auto' to derive it again")],
    as_json: AsJson = False,
) -> None:
    """Set a component's status by hand (it wins over incidents, checks and maintenance), or 'auto'."""
    with _server() as api:
        changed: Json = api.post(
            f"{API}/components/{segment(key)}/status", {"status": None if status == "auto" else status}
        )
    shown = changed["status_override"] or "derived from its incidents, checks and maintenance"
    _moved(changed, as_json, f"Component {changed['key']}: {shown}.")


@component_app.command("delete")
def delete_component(key: Key) -> None:
    """Delete a component."""
    with _server() as api:
        api.delete(f"{API}/components/{segment(key)}")
    output.say(f"Deleted component {key}.")


def _groups(groups: list[Json]) -> None:
    if not groups:
        output.say("No component groups.")
        return
    grid = output.table("KEY", "NAME", "POSITION")
    for g in groups:
        grid.add_row(escape(g["key"]), escape(g["name"]), str(g["position"]))
    output.console().print(grid)


@group_app.command("list")
def list_groups(as_json: AsJson = False) -> None:
    """List component groups."""
    _read(f"{API}/groups", as_json, _groups)


@group_app.command("save")
def save_group(
    key: Annotated[str, typer.Argument(help="The group's key")],
    name: Annotated[str, typer.Option(help="What the page calls it")],
    position: Annotated[int, typer.Option(help="Its place on the page")] = 0,
    as_json: AsJson = False,
) -> None:
    """Create a component group, or change it."""
    with _server() as api:
        saved: Json = api.request("PUT", f"{API}/groups/{segment(key)}", body={"name": name, "position": position})
    _moved(saved, as_json, f"Saved group {saved['key']} ({saved['name']}).")


def _maintenances(rows: list[Json]) -> None:
    if not rows:
        output.say("No scheduled maintenance.")
        return
    grid = output.table("ID", "TITLE", "STARTS", "ENDS", "COMPONENTS", "CANCELED")
    for m in rows:
        grid.add_row(
            str(m["id"]),
            escape(m["title"]),
            output.when(m["starts_at"]),
            output.when(m["ends_at"]),
            escape(", ".join(m["components"]) or "-"),
            output.when(m["canceled_at"]) if m["canceled_at"] else "-",
        )
    output.console().print(grid)


@maintenance_app.command("list")
def list_maintenances(as_json: AsJson = False) -> None:
    """List scheduled maintenance."""
    _read(f"{API}/maintenances", as_json, _maintenances)


@maintenance_app.command("schedule")
def schedule(
    title: Annotated[str, typer.Argument(help="What the page announces")],
    starts: Annotated[str, typer.Option(help="ISO 8601 with a time zone, e.g. 2026-12-01T22:00:00Z")],
    ends: Annotated[str, typer.Option(help="ISO 8601 with a time zone")],
    description: Annotated[str, typer.Option(help="What happens, what to expect")] = "",
    component: Annotated[list[str] | None, typer.Option(help="A component under maintenance (repeatable)")] = None,
    as_json: AsJson = False,
) -> None:
    """Announce scheduled maintenance on the status page."""
    body: Json = {
        "title": title, "description": description, "starts_at": starts, "ends_at": ends,
        "components": component or [],
    }  # fmt: skip
    with _server() as api:
        created: Json = api.post(f"{API}/maintenances", body)
    _moved(created, as_json, f"Scheduled maintenance {created['id']}: {created['title']}.")


@maintenance_app.command("cancel")
def cancel(maintenance_id: Annotated[int, typer.Argument(help="The maintenance's id")]) -> None:
    """Take scheduled maintenance off the page."""
    with _server() as api:
        api.delete(f"{API}/maintenances/{maintenance_id}")
    output.say(f"Canceled maintenance {maintenance_id}.")


def _subscribers(rows: list[Json]) -> None:
    if not rows:
        output.say("No subscribers.")
        return
    grid = output.table("ID", "KIND", "ADDRESS", "CONFIRMED", "SINCE")
    for row in rows:
        grid.add_row(
            str(row["id"]), row["kind"], escape(row["address"]), "yes" if row["confirmed"] else "no",
            output.when(row["created_at"]),
        )  # fmt: skip
    output.console().print(grid)


@subscriber_app.command("list")
def list_subscribers(as_json: AsJson = False) -> None:
    """List e-mail and webhook subscribers."""
    _read(f"{API}/subscribers", as_json, _subscribers)


@subscriber_app.command("add")
def add_subscriber(
    address: Annotated[str, typer.Argument(help="An e-mail address, or a webhook's https:// URL")],
    secret: Annotated[str | None, typer.Option(help="Webhooks: sign each body with this (16+ characters)")] = None,
    as_json: AsJson = False,
) -> None:
    """Subscribe a webhook, or an address that asked in person (confirmed at once)."""
    kind = "webhook" if address.startswith(("http://", "https://")) else "email"
    body: Json = {"kind": kind, "address": address, "signing_secret": secret}
    with _server() as api:
        made: Json = api.post(f"{API}/subscribers", body)
    _moved(made, as_json, f"Subscribed {made['kind']} {made['address']} (id {made['id']}).")


@subscriber_app.command("remove")
def remove_subscriber(subscriber_id: Annotated[int, typer.Argument(help="The subscriber's id")]) -> None:
    """Unsubscribe someone."""
    with _server() as api:
        api.delete(f"{API}/subscribers/{subscriber_id}")
    output.say(f"Removed subscriber {subscriber_id}.")


def register(app: typer.Typer) -> None:
    status_page_app.add_typer(component_app, name="component")
    status_page_app.add_typer(group_app, name="group")
    status_page_app.add_typer(maintenance_app, name="maintenance")
    status_page_app.add_typer(subscriber_app, name="subscriber")
    app.add_typer(status_page_app, name="status-page")
