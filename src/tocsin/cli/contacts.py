"""`tocsin contact verify USER METHOD [--code CODE]`: prove that a contact method reaches its owner.

Without `--code` the server sends a 6-digit code through the method (its
engine delivers it like a page); the command waits until the code is sent or
failed and says how to confirm, exiting 1 if it could not be sent. With
`--code` it confirms: the method is verified, and escalations page it from
then on. A code works for 15 minutes and for 5 wrong tries.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from tocsin.cli import output
from tocsin.cli.client import EXIT_API, Json, segment
from tocsin.cli.remote import AsJson, _server

contact_app = typer.Typer(help="Contact methods: verify that they reach their owner.", no_args_is_help=True)

_DONE = ("sent", "failed", "canceled")
POLL_INTERVAL_S = 0.5
# Tests swap this for a fake that moves no real time.
_sleep = time.sleep


@contact_app.command("verify")
def verify(
    user: Annotated[str, typer.Argument(help="E-mail of the contact method's owner")],
    method: Annotated[str, typer.Argument(help="The contact method's name, e.g. phone")],
    code: Annotated[str | None, typer.Option("--code", help="The 6-digit code the method received")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the code to be sent")] = 30.0,
    as_json: AsJson = False,
) -> None:
    """Send a verification code through a contact method, or confirm it with --code."""
    user, method = user.strip(), method.strip()
    path = f"/api/v1/users/{segment(user)}/contact-methods/{segment(method)}/verify"
    if code is not None:
        with _server() as api:
            verified: Json = api.post(f"{path}/confirm", {"code": code.strip()})
        if as_json:
            output.print_json(verified)
        else:
            output.say(f"{user}'s contact method {method} is verified.")
        return
    with _server() as api:
        sent: Json = api.post(path, {})
        delivery: Json = {"status": sent["status"], "error": ""}
        deadline = time.monotonic() + timeout
        while delivery["status"] not in _DONE and time.monotonic() < deadline:
            _sleep(POLL_INTERVAL_S)
            [delivery] = api.get("/api/v1/notifications", ids=str(sent["notification"]))
    status, error = delivery["status"], delivery["error"] or ""
    if as_json:
        output.print_json({**sent, "status": status, "error": error})
    elif status == "sent":
        output.say(
            f"A code went to {method}; it works until {output.when(sent['expires_at'])}. Confirm it with\n"
            f"  tocsin contact verify {user} {method} --code CODE"
        )
    elif status in _DONE:
        output.error(f"the code could not be sent through {method}: {error or status}")
    else:
        output.error(f"the code is not sent yet ({status}); check {method} in a while")
    if status != "sent":
        raise typer.Exit(EXIT_API)


def register(app: typer.Typer) -> None:
    app.add_typer(contact_app, name="contact")
