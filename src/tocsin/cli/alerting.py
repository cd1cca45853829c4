"""Remote commands for signals: alerts, integrations, test events, routing rules, maintenance windows.

They follow `tocsin.cli.remote`: same server and token, `--json` on every
listing and `show`, same exit codes. `tocsin event` is the exception: it
authenticates with an integration key (`--key` or TOCSIN_INTEGRATION_KEY), as
a monitoring tool would, and only takes the server's URL from the login; a
refused key exits 4 like a refused token.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from tocsin.cli import output
from tocsin.cli.client import (
    EXIT_CONFIG,
    EXIT_UNAUTHENTICATED,
    Client,
    CliError,
    Json,
    Login,
    NotConfigured,
    Unauthenticated,
    segment,
    server_url,
)
from tocsin.cli.remote import AsJson, Ref, _fail, _incident_path, _moved, _read, _reporting, _server, incident_app
from tocsin.config_file.durations import EXAMPLES, parse_duration

alert_app = typer.Typer(help="Alerts: deduplicated signals from monitoring tools.", no_args_is_help=True)
integration_app = typer.Typer(help="Integrations: where monitoring tools send their alerts.", no_args_is_help=True)
event_app = typer.Typer(
    help="Send an event as a monitoring tool would, e.g. a test alert (authenticates with an integration key).",
    no_args_is_help=True,
)
rule_app = typer.Typer(help="Routing rules of a service: severity, rerouting, drop, urgency.", no_args_is_help=True)
maintenance_app = typer.Typer(
    help="Maintenance windows: matching alerts are recorded, nobody paged.", no_args_is_help=True
)

Matchers = Annotated[
    list[str] | None,
    typer.Option("--match", help='A label matcher, e.g. severity="critical" or env=~"prod.*"; repeat for several'),
]


# ---- alerts ----------------------------------------------------------------


@alert_app.command("list")
def list_alerts(
    status: Annotated[str | None, typer.Option(help="firing or resolved; both when left out")] = None,
    service: Annotated[str | None, typer.Option(help="Only alerts of this service")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: AsJson = False,
) -> None:
    """List alerts, most recently seen first."""
    params: dict[str, Any] = {"status": status, "service": service, "limit": limit, "offset": offset}
    _read("/api/v1/alerts", as_json, lambda page: output.alerts_table(page, output.now()), **params)


@alert_app.command("show")
def show_alert(
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="The alert's id (see `tocsin alert list`)", min=1)],
    as_json: AsJson = False,
) -> None:
    """Show an alert: labels, details, links and the payload exactly as the sender wrote it."""
    _read(f"/api/v1/alerts/{alert_id}", as_json, lambda alert: output.show_alert(alert, output.now()))


def incident_alerts(ref: Ref, as_json: AsJson = False) -> None:
    """List the alerts attached to an incident."""
    _read(_incident_path(ref, "alerts"), as_json, lambda alerts: output.incident_alerts_table(ref, alerts))


# ---- integrations ------------------------------------------------------------


def _window_seconds(text: str) -> int:
    # 0 is a real choice here (every alert opens its own incident), which a duration cannot say.
    if text.strip() in ("0", "0s"):
        return 0
    try:
        return int(parse_duration(text).total_seconds())
    except ValueError as exc:
        raise _fail(f"--group-window: {exc}", EXIT_CONFIG) from None


def _pairs(option: str, values: list[str] | None) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _fail(f"{option} {item!r}: write it as name=value", EXIT_CONFIG)
        pairs[name.strip()] = value
    return pairs


@integration_app.command("create")
def create_integration(
    service: Annotated[str, typer.Option(help="Key of the service its alerts belong to")],
    kind: Annotated[
        str,
        typer.Option(help="Format: native, pagerduty, alertmanager, opsgenie, grafana, generic, github or sentry"),
    ],
    name: Annotated[str, typer.Option(help="Display name; '<service> <kind>' when left out")] = "",
    group_by: Annotated[
        list[str] | None,
        typer.Option("--group-by", help="Alerts with the same values of this label share an incident; repeat"),
    ] = None,
    group_window: Annotated[
        str | None, typer.Option(help=f"Alerts within this long of each other share an incident ({EXAMPLES}, or 0)")
    ] = None,
    auto_resolve: Annotated[
        str | None,
        typer.Option(help="When all its alerts resolve, the incident goes to: monitoring (default), resolve or none"),
    ] = None,
    default_severity: Annotated[
        str | None, typer.Option(help="Severity level when the sender's severity says nothing, e.g. P2")
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--mapping", help="generic only: field=JSON path, e.g. summary=$.title; repeat"),
    ] = None,
    signing_secret: Annotated[
        str | None,
        typer.Option(
            envvar="TOCSIN_SIGNING_SECRET", help="The secret the sender signs with (GitHub webhook secret, Grafana)"
        ),
    ] = None,
    spike_events: Annotated[
        int | None, typer.Option(help="sentry only: this many events of a crash group within --spike-minutes spike")
    ] = None,
    spike_minutes: Annotated[int | None, typer.Option(help="sentry only: the spike window in minutes")] = None,
    as_json: AsJson = False,
) -> None:
    """Create an integration and print its key (shown only now) and where to paste it in each tool."""
    settings: Json = {}
    if group_by:
        settings["group_by"] = group_by
    if group_window is not None:
        settings["group_window_s"] = _window_seconds(group_window)
    if auto_resolve is not None:
        settings["auto_resolve"] = auto_resolve.strip().lower()
    if default_severity is not None:
        settings["default_severity"] = default_severity
    if mapping:
        settings["mapping"] = _pairs("--mapping", mapping)
    for setting, value in (("spike_events", spike_events), ("spike_minutes", spike_minutes)):
        if value is not None:
            settings[setting] = value
    with _server() as api:
        body: Json = {"service": service, "kind": kind, "name": name, "settings": settings}
        if signing_secret:
            body["signing_secret"] = signing_secret
        created: Json = api.post("/api/v1/integrations", body)
    if as_json:
        output.print_json(created)
        return
    output.created_integration(created)


@integration_app.command("list")
def list_integrations(
    service: Annotated[str | None, typer.Option(help="Only this service's integrations")] = None,
    as_json: AsJson = False,
) -> None:
    """List integrations (their keys are never shown again; the prefix tells them apart)."""
    _read("/api/v1/integrations", as_json, output.integrations_table, service=service)


# ---- events ----------------------------------------------------------------


IntegrationKey = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="TOCSIN_INTEGRATION_KEY",
        help="The integration key (`tocsin integration create` prints it)",
        show_envvar=True,
    ),
]
DedupKey = Annotated[str, typer.Option("--dedup-key", help="The alert's dedup key, as the trigger printed it")]


class KeyRefused(CliError):
    exit_code = EXIT_UNAUTHENTICATED


@contextmanager
def _ingest(key: str | None) -> Iterator[Client]:
    """The server from the login, with the integration key as the credential."""
    with _reporting():
        url = server_url()
        if url is None:
            raise NotConfigured("no Tocsin URL configured: set TOCSIN_URL or run `tocsin login --url URL`")
        if not key or not key.strip():
            raise NotConfigured("no integration key: give --key or set TOCSIN_INTEGRATION_KEY")
        try:
            with Client(Login(url, key.strip())) as api:
                yield api
        except Unauthenticated as exc:
            # Not the API token: `tocsin login` would be the wrong advice.
            raise KeyRefused(f"{exc.detail}; check --key or TOCSIN_INTEGRATION_KEY") from None


def _send(key: str | None, event: Json, as_json: bool) -> None:
    with _ingest(key) as api:
        answer: Json = api.post("/api/v1/events", event)
    if as_json:
        output.print_json(answer)
        return
    output.say(output.event_result(event["action"], answer))


@event_app.command("trigger")
def trigger(
    summary: Annotated[str, typer.Option("--summary", "-s", help="What is wrong, e.g. 'Disk full on db-1'")],
    key: IntegrationKey = None,
    dedup_key: Annotated[
        str | None,
        typer.Option("--dedup-key", help="Identifies the alert; derived from labels and summary if left out"),
    ] = None,
    severity: Annotated[
        str | None, typer.Option(help="The sender's severity: critical, error, warning, info, or a level like P1")
    ] = None,
    labels: Annotated[list[str] | None, typer.Option("--label", "-l", help="A label as name=value; repeat")] = None,
    source: Annotated[str, typer.Option(help="Where it comes from, e.g. a host name")] = "",
    links: Annotated[list[str] | None, typer.Option("--link", help="A URL for responders; repeat")] = None,
    as_json: AsJson = False,
) -> None:
    """Trigger an alert (or fire it again: same dedup key, one alert with a count)."""
    event: Json = {"action": "trigger", "summary": summary, "source": source, "labels": _pairs("--label", labels)}
    if dedup_key:
        event["dedup_key"] = dedup_key
    if severity:
        event["severity"] = severity
    if links:
        event["links"] = [{"href": href} for href in links]
    _send(key, event, as_json)


@event_app.command("acknowledge")
def acknowledge(dedup_key: DedupKey, key: IntegrationKey = None, as_json: AsJson = False) -> None:
    """Acknowledge a firing alert, as its sender would."""
    _send(key, {"action": "acknowledge", "dedup_key": dedup_key}, as_json)


@event_app.command("resolve")
def resolve(dedup_key: DedupKey, key: IntegrationKey = None, as_json: AsJson = False) -> None:
    """Resolve a firing alert, as its sender would."""
    _send(key, {"action": "resolve", "dedup_key": dedup_key}, as_json)


# ---- routing rules -------------------------------------------------------------


ServiceKey = Annotated[str, typer.Argument(metavar="SERVICE", help="The service's key, e.g. api")]


@rule_app.command("add")
def add_rule(
    service: ServiceKey,
    matchers: Matchers = None,
    severity: Annotated[str | None, typer.Option(help="Set the incident's severity level, e.g. P1")] = None,
    route_to: Annotated[str | None, typer.Option("--route-to", help="Hand the alert to this service instead")] = None,
    drop: Annotated[bool, typer.Option("--drop", help="Discard matching alerts: nothing is stored")] = False,
    urgency: Annotated[str | None, typer.Option(help="high, or low: record the alert, page nobody")] = None,
    continue_: Annotated[
        bool, typer.Option("--continue", help="Keep evaluating later rules after this one matches")
    ] = False,
    position: Annotated[
        int | None, typer.Option(min=0, help="Where in the order (0 is first); last when left out")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Add a routing rule; the first rule that matches decides, unless it says --continue."""
    body: Json = {
        "matchers": matchers or [],
        "severity": severity,
        "route_to": route_to,
        "drop": drop,
        "urgency": urgency,
        "continue": continue_,
        "position": position,
    }
    with _server() as api:
        rule: Json = api.post(f"/api/v1/services/{segment(service)}/rules", body)
    _moved(rule, as_json, f"Added rule {rule['id']} to {service}: {output.rule_text(rule)}.")


@rule_app.command("list")
def list_rules(service: ServiceKey, as_json: AsJson = False) -> None:
    """List a service's routing rules in the order they are evaluated."""
    _read(f"/api/v1/services/{segment(service)}/rules", as_json, lambda rules: output.rules_table(service, rules))


@rule_app.command("delete")
def delete_rule(
    rule_id: Annotated[int, typer.Argument(metavar="ID", help="The rule's id (see `tocsin rule list`)", min=1)],
) -> None:
    """Delete a routing rule."""
    with _server() as api:
        api.delete(f"/api/v1/rules/{rule_id}")
    output.say(f"Deleted rule {rule_id}.")


# ---- maintenance windows ---------------------------------------------------------


def _instant(option: str, text: str, now: datetime) -> datetime:
    if text.strip().lower() == "now":
        return now
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _fail(f"{option} {text!r}: write now or a time like 2026-11-23T22:00Z", EXIT_CONFIG) from None
    if parsed.tzinfo is None:
        # A responder in Berlin and one in New York must not read one window two ways.
        raise _fail(f"{option} {text!r} has no time zone: write e.g. {text}Z or {text}+01:00", EXIT_CONFIG)
    return parsed.astimezone(UTC)


@maintenance_app.command("add")
def add_window(
    name: Annotated[str, typer.Option(help="What is happening, e.g. 'DB upgrade'")],
    start: Annotated[str, typer.Option(help="now, or a time with its zone, e.g. 2026-11-23T22:00+01:00")] = "now",
    end: Annotated[str | None, typer.Option(help="A time with its zone; or give --duration")] = None,
    duration: Annotated[str | None, typer.Option(help=f"How long from --start, e.g. 2h ({EXAMPLES})")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service's alerts; all services when left out")] = None,
    matchers: Matchers = None,
    as_json: AsJson = False,
) -> None:
    """Add a maintenance window: alerts that match are recorded but open no incident."""
    if (end is None) == (duration is None):
        raise _fail("give --end or --duration (one of them)", EXIT_CONFIG)
    starts_at = _instant("--start", start, output.now())
    if duration is not None:
        try:
            length: timedelta = parse_duration(duration)
        except ValueError as exc:
            raise _fail(f"--duration: {exc}", EXIT_CONFIG) from None
        ends_at = starts_at + length
    else:
        ends_at = _instant("--end", end or "", output.now())
    body: Json = {
        "name": name,
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
        "service": service,
        "matchers": matchers or [],
    }
    with _server() as api:
        window: Json = api.post("/api/v1/maintenance-windows", body)
    _moved(window, as_json, f"Added maintenance window {window['id']}: {output.window_text(window)}.")


@maintenance_app.command("list")
def list_windows(
    include_past: Annotated[bool, typer.Option("--all", help="Also the windows that have ended")] = False,
    as_json: AsJson = False,
) -> None:
    """List maintenance windows that are on or still to come."""
    params: dict[str, Any] = {"include_past": "true" if include_past else None}
    _read("/api/v1/maintenance-windows", as_json, lambda windows: output.windows_table(windows, output.now()), **params)


@maintenance_app.command("end")
def end_window(
    window_id: Annotated[
        int, typer.Argument(metavar="ID", help="The window's id (see `tocsin maintenance list`)", min=1)
    ],
    as_json: AsJson = False,
) -> None:
    """End a maintenance window now; it stays listed with --all, for the record."""
    with _server() as api:
        window: Json = api.post(f"/api/v1/maintenance-windows/{window_id}/end", {})
    _moved(
        window,
        as_json,
        f"Ended maintenance window {window['id']} ({window['name']}) at {output.when(window['ends_at'])}.",
    )


def register(app: typer.Typer) -> None:
    """Add the alerting commands to the `tocsin` app."""
    incident_app.command("alerts")(incident_alerts)
    app.add_typer(alert_app, name="alert")
    app.add_typer(integration_app, name="integration")
    app.add_typer(event_app, name="event")
    app.add_typer(rule_app, name="rule")
    app.add_typer(maintenance_app, name="maintenance")
