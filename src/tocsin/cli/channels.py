"""`tocsin channel list|show|create|delete|test`: team channels and the events each hears.

They follow `tocsin.cli.remote`: same server and token, `--json` on listings
and `show`, same exit codes. A route is written as one argument of event
patterns and options:

    --route 'incident.* deploy.failed service=api min_severity=P1'

`tocsin channel test NAME` queues a test post, polls until it is sent or
failed (or `--timeout` runs out) and exits 1 if it did not arrive, like
`tocsin notify test`.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import EXIT_API, EXIT_CONFIG, Json, segment
from tocsin.cli.remote import AsJson, _fail, _moved, _read, _server

channel_app = typer.Typer(help="Team channels: where incidents, deploys and changes are posted.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Channel name, e.g. alerts")]

_ROUTE_OPTIONS = ("service", "min_severity")
_DONE = ("sent", "failed", "canceled")
POLL_INTERVAL_S = 0.5
# Tests swap this for a fake that moves no real time.
_sleep = time.sleep


def parse_route(text: str) -> Json:
    """'incident.* deploy.failed service=api min_severity=P1' → the API's route object."""
    route: Json = {"events": []}
    for word in text.replace(",", " ").split():
        name, equals, value = word.partition("=")
        if not equals:
            route["events"].append(word)
            continue
        name = name.replace("-", "_")
        if name not in _ROUTE_OPTIONS or not value:
            raise _fail(
                f"--route: {word!r} is not an option; use service=KEY or min_severity=LEVEL after the patterns",
                EXIT_CONFIG,
            )
        route[name] = value
    if not route["events"]:
        raise _fail(f"--route: {text!r} names no event pattern, e.g. 'incident.*'", EXIT_CONFIG)
    return route


def route_text(route: Json) -> str:
    text = ", ".join(route["events"]) + f" from {route['service'] or 'every service'}"
    return text + (f" at {route['min_severity']} or above" if route["min_severity"] else "")


@channel_app.command("list")
def list_channels(as_json: AsJson = False) -> None:
    """List team channels and what each hears."""
    _read("/api/v1/channels", as_json, _channels_table)


def _channels_table(answer: list[Json]) -> None:
    if not answer:
        output.say("No channels yet.")
        return
    grid = output.table("Name", "Kind", "Address", "Routes")
    for channel in answer:
        routes = "\n".join(route_text(r) for r in channel["routes"]) or "[yellow]no routes: hears nothing[/yellow]"
        grid.add_row(escape(channel["name"]), channel["kind"], escape(channel["address"]), escape(routes))
    output.console().print(grid)


@channel_app.command("show")
def show_channel(name: Name, as_json: AsJson = False) -> None:
    """Show a channel and its routes."""
    _read(f"/api/v1/channels/{segment(name)}", as_json, _show)


def _show(channel: Json) -> None:
    out = output.console()
    managed = " · managed by tocsin apply" if channel["managed"] else ""
    out.print(f"[bold]{escape(channel['name'])}[/bold]  {channel['kind']} {escape(channel['address'])}{managed}")
    if channel["mention"]:
        out.print(f"  mentions {escape(channel['mention'])} when people are needed")
    if channel["signed"]:
        out.print("  signs each post (X-Tocsin-Signature)")
    if not channel["routes"]:
        out.print("  No routes: the channel hears nothing.")
    for number, route in enumerate(channel["routes"], start=1):
        out.print(f"  {number}. {escape(route_text(route))}")


@channel_app.command("create")
def create_channel(
    name: Name,
    kind: Annotated[str, typer.Option(help="discord, slack, email, webhook or apprise")],
    address: Annotated[
        str, typer.Option(envvar="TOCSIN_CHANNEL_ADDRESS", help="Webhook URL, e-mail or Apprise URL (a secret)")
    ],
    route: Annotated[
        list[str] | None,
        typer.Option("--route", help="Patterns and options, e.g. 'incident.* service=api min_severity=P1'; repeatable"),
    ] = None,
    mention: Annotated[str | None, typer.Option(help="Discord/Slack id to ping, or & and a role id")] = None,
    signing_secret: Annotated[
        str | None, typer.Option(envvar="TOCSIN_CHANNEL_SIGNING_SECRET", help="webhook only: the HMAC key")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Create a team channel (needs an admin token)."""
    body: Json = {"name": name, "kind": kind, "address": address, "routes": [parse_route(r) for r in route or []]}
    if mention is not None:
        body["mention"] = mention
    if signing_secret is not None:
        body["signing_secret"] = signing_secret
    with _server() as api:
        channel: Json = api.post("/api/v1/channels", body)
    routes = len(channel["routes"])
    _moved(channel, as_json, f"Created channel {channel['name']} with {routes} route{'' if routes == 1 else 's'}.")


@channel_app.command("delete")
def delete_channel(name: Name) -> None:
    """Delete a team channel and its routes; posts not yet sent to it are canceled (needs an admin token)."""
    with _server() as api:
        api.delete(f"/api/v1/channels/{segment(name)}")
    output.say(f"Deleted channel {name}.")


@channel_app.command("test")
def send_test(
    name: Name,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the result")] = 30.0,
    as_json: AsJson = False,
) -> None:
    """Post a test message to a channel and show whether it arrived."""
    with _server() as api:
        result: Json = api.post(f"/api/v1/channels/{segment(name)}/test", {})
        deadline = time.monotonic() + timeout
        while result["status"] not in _DONE and time.monotonic() < deadline:
            _sleep(POLL_INTERVAL_S)
            [result] = api.get("/api/v1/notifications", ids=str(result["id"]))
    if as_json:
        output.print_json(result)
    elif result["status"] == "sent":
        output.say(f"Posted to {name}.")
    elif result["status"] in _DONE:
        output.error(f"The test post to {name} {result['status']}: {result['error'] or 'no reason given'}")
    else:
        output.error(f"The test post to {name} is still {result['status']} after {timeout:g}s; is the engine running?")
    if result["status"] != "sent":
        raise typer.Exit(EXIT_API)


def register(app: typer.Typer) -> None:
    app.add_typer(channel_app, name="channel")
