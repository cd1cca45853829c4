"""Commands that talk to a Tocsin server over HTTP, the way `gh` talks to GitHub.

The server and token come from TOCSIN_URL / TOCSIN_TOKEN or from `tocsin login`
(see `tocsin.cli.client`). Every listing and `show` takes `--json`, which
prints the server's answer unchanged on stdout and nothing else.

Exit codes, for scripts:

    0  done
    1  the server refused (not found, invalid move, missing scope …); the reason is on stderr
    2  usage or configuration: bad arguments, no server or token configured
    3  the server cannot be reached
    4  the token was refused (unknown, revoked, expired): log in again
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import click
import typer

from tocsin.cli import output
from tocsin.cli.client import (
    EXIT_CONFIG,
    Client,
    CliError,
    Json,
    Login,
    config_path,
    forget,
    normalize_url,
    resolve_login,
    segment,
    store,
)

AsJson = Annotated[bool, typer.Option("--json", help="Print the server's JSON answer instead of a table")]
Ref = Annotated[str, typer.Argument(help="Incident id: INC-2026-11-23-001 or its number")]
Note = Annotated[str | None, typer.Option("--note", "-m", help="Why, for the timeline")]

incident_app = typer.Typer(help="Declare incidents and move them through the response.", no_args_is_help=True)
service_app = typer.Typer(help="Services: the things that can break.", no_args_is_help=True)
team_app = typer.Typer(help="Teams.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
severity_app = typer.Typer(help="Severity schemes and their response targets.", no_args_is_help=True)
role_app = typer.Typer(help="Incident roles.", no_args_is_help=True)


def _fail(message: str, code: int) -> typer.Exit:
    output.error(message)
    return typer.Exit(code)


@contextmanager
def _reporting() -> Iterator[None]:
    try:
        yield
    except CliError as exc:
        raise _fail(exc.message, exc.exit_code) from None


@contextmanager
def _server() -> Iterator[Client]:
    """The configured server; any failure inside becomes one line on stderr and an exit code."""
    with _reporting(), Client(resolve_login()) as api:
        yield api


def _read(path: str, as_json: bool, render: Callable[[Any], None], **params: Any) -> None:
    """GET a resource and print it: the server's JSON as-is for scripts, `render` for people."""
    with _server() as api:
        answer: Any = api.get(path, **params)
    if as_json:
        output.print_json(answer)
        return
    render(answer)


def _incident_path(ref: str, action: str = "") -> str:
    return f"/api/v1/incidents/{segment(ref.strip())}" + (f"/{action}" if action else "")


def _note_body(note: str | None) -> Json:
    return {"note": note} if note else {}


# ---- login -----------------------------------------------------------------


def login(
    url: Annotated[str, typer.Option(envvar="TOCSIN_URL", prompt="Tocsin URL", help="e.g. http://127.0.0.1:8080")],
    token: Annotated[
        str,
        typer.Option(
            envvar="TOCSIN_TOKEN",
            prompt="API token",
            hide_input=True,
            help="An API token (`tocsin token create`); prompted for, unseen, when left out",
        ),
    ],
) -> None:
    """Check a server URL and token, then remember them for later commands."""
    with _reporting():
        credentials = Login(normalize_url(url), token.strip())
        with Client(credentials) as api:
            me: Json = api.get("/api/v1/me")
        path = config_path()
        try:
            store(credentials, path)
        except OSError as exc:
            raise _fail(f"cannot write {path}: {exc}", EXIT_CONFIG) from None
    output.say(f"Logged in to {credentials.url} as {_identity(me)}. Saved to {path}.")


def logout() -> None:
    """Forget the stored server URL and token."""
    path = config_path()
    try:
        removed = forget(path)
    except OSError as exc:
        raise _fail(f"cannot remove {path}: {exc}", EXIT_CONFIG) from None
    output.say(f"Removed {path}." if removed else "Not logged in; nothing to remove.")


def _identity(me: Json) -> str:
    user = me.get("user")
    who = f"{user['name']} <{user['email']}>" if user else me["actor"]
    return f"{who} ({me['scope']} scope)"


def whoami(as_json: AsJson = False) -> None:
    """Show who the configured token belongs to."""
    with _server() as api:
        me: Json = api.get("/api/v1/me")
    if as_json:
        output.print_json(me)
        return
    output.say(f"{_identity(me)} on {api.url}")


# ---- incidents -------------------------------------------------------------


@incident_app.command("declare")
def declare(
    title: Annotated[str, typer.Option("--title", "-t", help="What is broken, as users see it")],
    severity: Annotated[str, typer.Option("--severity", "-s", help="A level of the active scheme, e.g. P1")],
    services: Annotated[
        list[str] | None, typer.Option("--service", help="Affected service key; repeat for several")
    ] = None,
    impact: Annotated[str, typer.Option(help="Who is affected and how")] = "",
    drill: Annotated[bool, typer.Option("--drill", help="A practice run: recorded, kept apart from real ones")] = False,
    commander: Annotated[str | None, typer.Option(help="E-mail of the incident commander")] = None,
    as_json: AsJson = False,
) -> None:
    """Declare an incident and print its id."""
    body: Json = {"title": title, "severity": severity, "services": services or [], "impact": impact, "drill": drill}
    if commander:
        body["commander"] = commander
    with _server() as api:
        incident: Json = api.post("/api/v1/incidents", body)
    if as_json:
        output.print_json(incident)
        return
    output.say(f"Declared {incident['human_id']}")
    output.show_incident(incident, output.now())


@incident_app.command("list")
def list_incidents(
    status: Annotated[
        str, typer.Option(help="open, closed, all, or statuses separated by commas (e.g. triggered,acknowledged)")
    ] = "open",
    severity: Annotated[str | None, typer.Option(help="Only this severity level")] = None,
    service: Annotated[str | None, typer.Option(help="Only incidents affecting this service")] = None,
    drill: Annotated[bool | None, typer.Option("--drill/--no-drill", help="Only drills, or no drills")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: AsJson = False,
) -> None:
    """List incidents, newest first; open ones unless told otherwise."""
    params: dict[str, Any] = {"status": status, "severity": severity, "service": service, "limit": limit}
    params.update(offset=offset, drill=None if drill is None else str(drill).lower())
    _read("/api/v1/incidents", as_json, lambda answer: output.incident_table(answer, output.now()), **params)


@incident_app.command("show")
def show(ref: Ref, as_json: AsJson = False) -> None:
    """Show an incident: status, times, roles, response targets, and the changes to its services before it."""
    if as_json:
        _read(_incident_path(ref), as_json, lambda answer: None)
        return
    with _server() as api:
        incident: Json = api.get(_incident_path(ref))
        changes: Json = api.get(_incident_path(ref, "changes"))
    output.show_incident(incident, output.now())
    output.console().print()
    output.incident_changes(changes, output.now())


def _moved(incident: Json, as_json: bool, message: str) -> None:
    if as_json:
        output.print_json(incident)
    else:
        output.say(message)


@incident_app.command("ack")
def ack(ref: Ref, note: Note = None, as_json: AsJson = False) -> None:
    """Acknowledge an incident: someone is on it (stops the paging)."""
    with _server() as api:
        incident: Json = api.post(_incident_path(ref, "acknowledge"), _note_body(note))
    _moved(incident, as_json, f"Acknowledged {incident['human_id']}.")


@incident_app.command("status")
def change_status(
    ref: Ref,
    status: Annotated[
        str, typer.Argument(help="acknowledged, investigating, identified, mitigating, monitoring, resolved, canceled")
    ],
    note: Note = None,
    as_json: AsJson = False,
) -> None:
    """Move an incident to another status."""
    with _server() as api:
        incident: Json = api.post(_incident_path(ref, "status"), {"status": status.strip().lower(), "note": note})
    _moved(incident, as_json, f"{incident['human_id']} is now {incident['status']}.")


@incident_app.command("assign")
def assign(
    ref: Ref,
    role: Annotated[str, typer.Option(help="Role key, e.g. commander (see `tocsin role list`)")],
    user: Annotated[str, typer.Option(help="E-mail of the user taking the role")],
    as_json: AsJson = False,
) -> None:
    """Give an incident role to someone; the previous holder hands over."""
    with _server() as api:
        incident: Json = api.post(_incident_path(ref, "roles"), {"role": role, "user": user})
    holder = incident["roles"].get(role, {"name": user, "user": user})
    _moved(incident, as_json, f"{holder['name']} <{holder['user']}> is now {role} of {incident['human_id']}.")


@incident_app.command("note")
def note(ref: Ref, text: Annotated[str, typer.Argument(help="The note")], as_json: AsJson = False) -> None:
    """Add a note to the timeline (for the responders, never public)."""
    with _server() as api:
        entry: Json = api.post(_incident_path(ref, "notes"), {"text": text})
    _moved(entry, as_json, f"Noted on {ref} at {output.when(entry['at'])}.")


@incident_app.command("update")
def update(
    ref: Ref,
    text: Annotated[str | None, typer.Argument(help="The status update (or use --template)")] = None,
    public: Annotated[bool, typer.Option("--public", help="Also for the public status page")] = False,
    template: Annotated[
        str | None, typer.Option("--template", help="Write it from a message template, e.g. internal_update")
    ] = None,
    edit: Annotated[bool, typer.Option("--edit", help="Open the filled template in $EDITOR before posting")] = False,
    as_json: AsJson = False,
) -> None:
    """Post a status update for stakeholders, typed or written from a template."""
    if text is None and template is None:
        raise _fail("give the update's text, or --template KEY to write it from a template", 2)
    with _server() as api:
        if template is not None and text is None and edit:
            preview: Json = api.post(f"/api/v1/templates/{segment(template)}/preview", {"incident": ref})
            edited = click.edit(preview["text"])
            text = (edited if isinstance(edited, str) else str(preview["text"])).strip()
            if not text:
                raise _fail("the update is empty: nothing posted", 1)
        body: Json = {"text": text, "public": public, "template": template}
        entry: Json = api.post(_incident_path(ref, "updates"), body)
    audience = "public update" if public else "update"
    _moved(entry, as_json, f"Posted {audience} on {ref} at {output.when(entry['at'])}.")


@incident_app.command("severity")
def change_severity(
    ref: Ref,
    level: Annotated[str, typer.Argument(help="The new severity level, e.g. P0")],
    reason: Annotated[str | None, typer.Option("--reason", "-m", help="Why, for the timeline")] = None,
    as_json: AsJson = False,
) -> None:
    """Raise or lower an incident's severity; its response targets move with it."""
    with _server() as api:
        incident: Json = api.post(_incident_path(ref, "severity"), {"severity": level, "reason": reason})
    _moved(incident, as_json, f"{incident['human_id']} is now {incident['severity']}.")


@incident_app.command("resolve")
def resolve(ref: Ref, note: Note = None, as_json: AsJson = False) -> None:
    """Resolve an incident."""
    with _server() as api:
        incident: Json = api.post(_incident_path(ref, "resolve"), _note_body(note))
    took = output.between(incident["declared_at"], incident["resolved_at"])
    _moved(incident, as_json, f"Resolved {incident['human_id']} {took} after it was declared.")


@incident_app.command("cancel")
def cancel(
    ref: Ref,
    note: Annotated[str | None, typer.Option("--note", "--reason", "-m", help="Why it was a false alarm")] = None,
    as_json: AsJson = False,
) -> None:
    """Cancel an incident that turned out to be a false alarm."""
    with _server() as api:
        incident: Json = api.post(_incident_path(ref, "cancel"), _note_body(note))
    _moved(incident, as_json, f"Canceled {incident['human_id']}.")


@incident_app.command("edit")
def edit(
    ref: Ref,
    title: Annotated[str | None, typer.Option("--title", "-t", help="New title")] = None,
    impact: Annotated[str | None, typer.Option(help="Who is affected and how")] = None,
    services: Annotated[
        list[str] | None, typer.Option("--service", help="The affected services, replacing the current ones; repeat")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Change an incident's title, impact or services; each change lands on the timeline."""
    body: Json = {"title": title, "impact": impact, "services": services}
    body = {k: v for k, v in body.items() if v is not None}
    if not body:
        raise _fail("nothing to change: give --title, --impact or --service", EXIT_CONFIG)
    with _server() as api:
        incident: Json = api.patch(_incident_path(ref), body)
    _moved(incident, as_json, f"Updated {incident['human_id']}.")


@incident_app.command("timeline")
def timeline(ref: Ref, as_json: AsJson = False) -> None:
    """Show an incident's timeline, oldest first."""
    _read(_incident_path(ref, "timeline"), as_json, lambda entries: output.timeline_table(ref, entries))


# ---- directory -------------------------------------------------------------


_EMERGENCY_HELP = "Pages for its incidents ignore quiet hours, whatever the severity"


@service_app.command("list")
def list_services(as_json: AsJson = False) -> None:
    """List services."""
    _read("/api/v1/services", as_json, output.services_table)


@service_app.command("create")
def create_service(
    key: Annotated[str, typer.Argument(help="Short stable key, e.g. api")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    description: Annotated[str, typer.Option(help="What it is, for responders")] = "",
    team: Annotated[str | None, typer.Option(help="Key of the owning team")] = None,
    emergency: Annotated[bool, typer.Option(help=_EMERGENCY_HELP)] = False,
    as_json: AsJson = False,
) -> None:
    """Create a service."""
    body: Json = {"key": key, "name": name, "description": description, "team": team, "emergency": emergency}
    with _server() as api:
        service: Json = api.post("/api/v1/services", body)
    _moved(service, as_json, f"Created service {service['key']}.")


@service_app.command("edit")
def edit_service(
    key: Annotated[str, typer.Argument(help="The service's key")],
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    description: Annotated[str | None, typer.Option(help="What it is, for responders")] = None,
    emergency: Annotated[bool | None, typer.Option("--emergency/--no-emergency", help=_EMERGENCY_HELP)] = None,
    as_json: AsJson = False,
) -> None:
    """Change a service's name, description or emergency flag."""
    body: Json = {"name": name, "description": description, "emergency": emergency}
    body = {k: v for k, v in body.items() if v is not None}
    if not body:
        raise _fail("nothing to change: give --name, --description or --emergency/--no-emergency", EXIT_CONFIG)
    with _server() as api:
        service: Json = api.patch(f"/api/v1/services/{segment(key)}", body)
    _moved(service, as_json, f"Updated service {service['key']}.")


@team_app.command("list")
def list_teams(as_json: AsJson = False) -> None:
    """List teams and their members."""
    _read("/api/v1/teams", as_json, output.teams_table)


@team_app.command("create")
def create_team(
    key: Annotated[str, typer.Argument(help="Short stable key, e.g. platform")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    description: Annotated[str, typer.Option(help="What the team owns")] = "",
    members: Annotated[list[str] | None, typer.Option("--member", help="E-mail of a member; repeat")] = None,
    as_json: AsJson = False,
) -> None:
    """Create a team (needs an admin token)."""
    with _server() as api:
        team: Json = api.post(
            "/api/v1/teams", {"key": key, "name": name, "description": description, "members": members or []}
        )
    _moved(team, as_json, f"Created team {team['key']} with {len(team['members'])} member(s).")


@user_app.command("list")
def list_users(as_json: AsJson = False) -> None:
    """List users."""
    _read("/api/v1/users", as_json, output.users_table)


@user_app.command("create")
def create_user(
    email: Annotated[str, typer.Argument(help="E-mail, which also identifies the user")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    role: Annotated[str, typer.Option(help="admin, responder or viewer")] = "responder",
    time_zone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Paris")] = "UTC",
    as_json: AsJson = False,
) -> None:
    """Create a user (needs an admin token)."""
    with _server() as api:
        user: Json = api.post("/api/v1/users", {"email": email, "name": name, "role": role, "time_zone": time_zone})
    _moved(user, as_json, f"Created user {user['email']} ({user['role']}).")


@severity_app.command("list")
def list_severities(as_json: AsJson = False) -> None:
    """List severity schemes with each level's response targets."""
    _read("/api/v1/severities", as_json, output.severities_table)


@role_app.command("list")
def list_roles(as_json: AsJson = False) -> None:
    """List the roles that can be given on an incident."""
    _read("/api/v1/roles", as_json, output.roles_table)


def register(app: typer.Typer) -> None:
    """Add the remote commands to the `tocsin` app."""
    app.command()(login)
    app.command()(logout)
    app.command()(whoami)
    app.add_typer(incident_app, name="incident")
    # The two things done most at 3 a.m. get a short form.
    app.command("ack", help="Acknowledge an incident (same as `tocsin incident ack`).")(ack)
    app.command("timeline", help="Show an incident's timeline (same as `tocsin incident timeline`).")(timeline)
    app.add_typer(service_app, name="service")
    app.add_typer(team_app, name="team")
    app.add_typer(user_app, name="user")
    app.add_typer(severity_app, name="severity")
    app.add_typer(role_app, name="role")
