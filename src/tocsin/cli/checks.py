"""`tocsin check`: active health checks (HTTP, TCP, DNS, TLS expiry), over HTTP like the other remote commands.

`--json` on `list`, `show` and `run-now` prints the server's answer as-is; the
tables are for people. Durations are written as in config files (30s, 5m, 1h).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import EXIT_CONFIG, Json, segment
from tocsin.cli.remote import AsJson, _fail, _moved, _read, _server
from tocsin.config_file.durations import EXAMPLES, parse_duration

check_app = typer.Typer(
    help="Health checks: Tocsin probes a URL, port, DNS name or certificate; a check that goes down raises an alert.",
    no_args_is_help=True,
)

CheckRef = Annotated[str, typer.Argument(metavar="NAME", help="The check's name")]


def _seconds(option: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        span: timedelta = parse_duration(text)
    except ValueError as exc:
        raise _fail(f"{option}: {exc}", EXIT_CONFIG) from None
    return int(span.total_seconds())


def _host_port(option: str, text: str, default: int | None) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, ""
    if not port:
        if default is None:
            raise _fail(f"{option}: give host:port, e.g. db.internal:5432", EXIT_CONFIG)
        return text, default
    if not port.isdigit():
        raise _fail(f"{option}: {port!r} is not a port", EXIT_CONFIG)
    return host.strip("[]"), int(port)


@check_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A key such as api-health")],
    service: Annotated[str, typer.Option(help="Key of the service whose alert it raises")],
    http: Annotated[str | None, typer.Option(help="Probe this URL (http:// or https://)")] = None,
    tcp: Annotated[str | None, typer.Option(help="Connect to host:port")] = None,
    dns: Annotated[str | None, typer.Option(help="Resolve this name")] = None,
    tls: Annotated[str | None, typer.Option(help="Read the certificate of host[:port] (443 by default)")] = None,
    method: Annotated[str, typer.Option(help="HTTP method")] = "GET",
    header: Annotated[list[str] | None, typer.Option(help="An HTTP header, 'Name: value' (repeatable)")] = None,
    body: Annotated[str | None, typer.Option(help="HTTP request body")] = None,
    expect_status: Annotated[list[int] | None, typer.Option(help="Up only with this status (repeatable)")] = None,
    keyword: Annotated[str | None, typer.Option(help="Up only when the body contains this")] = None,
    regex: Annotated[str | None, typer.Option(help="Up only when the body matches this")] = None,
    condition: Annotated[
        list[str] | None, typer.Option(help="A JSON condition such as '$.status == \"ok\"' (repeatable)")
    ] = None,
    max_response_ms: Annotated[int | None, typer.Option(help="Down when it answers slower than this many ms")] = None,
    record_type: Annotated[str, typer.Option(help="DNS record type")] = "A",
    expect: Annotated[str | None, typer.Option(help="DNS: up only when an answer is this")] = None,
    nameserver: Annotated[str | None, typer.Option(help="DNS: ask this server (host[:port])")] = None,
    warn_days: Annotated[int, typer.Option(help="TLS: down when the certificate expires sooner")] = 14,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Do not verify TLS certificates")] = False,
    interval: Annotated[str, typer.Option(help=f"How often it runs ({EXAMPLES})")] = "1m",
    timeout: Annotated[str, typer.Option(help="How long a run may take")] = "10s",
    failures_before_down: Annotated[int, typer.Option(help="Failures in a row before it is down")] = 3,
    successes_before_up: Annotated[int, typer.Option(help="Successes in a row before it is up again")] = 2,
    remind: Annotated[str | None, typer.Option(help="Raise the alert again this often while down")] = None,
    description: Annotated[str, typer.Option(help="What it watches")] = "",
    as_json: AsJson = False,
) -> None:
    """Create a check; it runs from its next slot on."""
    given = [k for k, v in (("--http", http), ("--tcp", tcp), ("--dns", dns), ("--tls", tls)) if v is not None]
    if len(given) != 1:
        raise _fail("give one of --http, --tcp, --dns or --tls", EXIT_CONFIG)
    spec: Json
    if http is not None:
        kind = "http"
        headers: dict[str, str] = {}
        for line in header or []:
            key, sep, value = line.partition(":")
            if not sep:
                raise _fail(f"--header: {line!r} is not 'Name: value'", EXIT_CONFIG)
            headers[key.strip()] = value.strip()
        spec = {"url": http, "method": method, "headers": headers, "body": body or ""}
        spec |= {"expect_status": expect_status} if expect_status else {}
        spec |= {"keyword": keyword} if keyword is not None else {}
        spec |= {"regex": regex} if regex is not None else {}
        spec |= {"conditions": condition} if condition else {}
        spec |= {"verify_tls": False} if no_verify else {}
    elif tcp is not None:
        kind = "tcp"
        host, port = _host_port("--tcp", tcp, None)
        spec = {"host": host, "port": port}
    elif dns is not None:
        kind = "dns"
        spec = {"name": dns, "record_type": record_type}
        spec |= {"expect": expect} if expect is not None else {}
        spec |= {"nameserver": nameserver} if nameserver is not None else {}
    else:
        assert tls is not None
        kind = "tls"
        host, port = _host_port("--tls", tls, 443)
        spec = {"host": host, "port": port, "warn_days": warn_days}
        spec |= {"verify": False} if no_verify else {}
    if max_response_ms is not None and kind != "tls":
        spec["max_response_ms"] = max_response_ms
    request: Json = {
        "service": service,
        "name": name,
        "kind": kind,
        "spec": spec,
        "interval_s": _seconds("--interval", interval),
        "timeout_s": _seconds("--timeout", timeout),
        "failures_before_down": failures_before_down,
        "successes_before_up": successes_before_up,
        "reminder_every_s": _seconds("--remind", remind),
        "description": description,
    }
    with _server() as api:
        created: Json = api.post("/api/v1/checks", request)
    _moved(
        created,
        as_json,
        f"Created check {created['name']} for service {created['service']}: {created['target']}, "
        f"every {output.duration(created['interval_s'])}, down after {created['failures_before_down']} failures.",
    )


def _last(check: Json) -> str:
    if check["last_result_at"] is None:
        return "never run"
    text = "up" if check["last_up"] else f"down: {check['last_reason']}"
    if check["last_response_ms"] is not None:
        text += f" ({check['last_response_ms']} ms)"
    return text


def _table(checks: list[Json]) -> None:
    if not checks:
        output.say("No checks.")
        return
    now = output.now()
    grid = output.table("NAME", "SERVICE", "KIND", "STATUS", "TARGET", "EVERY", "LAST RUN", "LAST RESULT")
    for check in checks:
        grid.add_row(
            escape(check["name"]),
            escape(check["service"]),
            check["kind"],
            check["status"],
            escape(check["target"]),
            output.duration(check["interval_s"]),
            output.when(check["last_result_at"], relative_to=now),
            escape(_last(check)[:80]),
        )
    output.console().print(grid)


@check_app.command("list")
def list_checks(
    service: Annotated[str | None, typer.Option(help="Only this service's checks")] = None,
    as_json: AsJson = False,
) -> None:
    """List checks with their status and last result."""
    _read("/api/v1/checks", as_json, _table, service=service)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


def _show(check: Json) -> None:
    now = output.now()
    say = output.say
    say(f"{check['name']} · {check['status']} · service {check['service']}")
    if check["description"]:
        say(check["description"])
    say(f"Target:     {check['kind']} {check['target']}")
    say(
        f"Runs:       every {output.duration(check['interval_s'])}, timeout {output.duration(check['timeout_s'])}, "
        f"down after {check['failures_before_down']} failures, up after {check['successes_before_up']} successes"
    )
    say(f"Last run:   {output.when(check['last_result_at'], relative_to=now)} · {_last(check)}")
    if check["next_run_at"]:
        say(f"Next run:   {output.when(check['next_run_at'], relative_to=now)}")
    grid = output.table("WINDOW", "UPTIME", "RESULTS", "P50", "P95", "P99", "MAX")
    for window in check["uptime"]:
        uptime = window["uptime_percent"]
        grid.add_row(
            window["window"],
            "-" if uptime is None else f"{uptime:.3f}%",
            str(window["results"]),
            _ms(window["p50_ms"]),
            _ms(window["p95_ms"]),
            _ms(window["p99_ms"]),
            _ms(window["max_ms"]),
        )
    output.console().print(grid)
    results: list[Json] = check["recent_results"]
    if not results:
        say("No results yet.")
        return
    recent = output.table("AT", "RESULT", "TIME", "REASON")
    for result in results:
        verdict = "held" if result["held"] else "up" if result["up"] else "down"
        recent.add_row(output.when(result["at"]), verdict, _ms(result["response_ms"]), escape(result["reason"]))
    output.console().print(recent)


@check_app.command("show")
def show(
    ref: CheckRef,
    results: Annotated[int, typer.Option(min=0, max=500, help="How many recent results to list")] = 20,
    as_json: AsJson = False,
) -> None:
    """Show a check: uptime and response times over 24 h, 7, 30 and 90 days, and its latest results."""
    _read(f"/api/v1/checks/{segment(ref)}", as_json, _show, results=results)


@check_app.command("run-now")
def run_now(ref: CheckRef, as_json: AsJson = False) -> None:
    """Run a check now and print its result (it counts like a scheduled run)."""
    with _server() as api:
        answer: Any = api.post(f"/api/v1/checks/{segment(ref)}/run-now", {})
    if as_json:
        output.print_json(answer)
        return
    result = answer["result"]
    verdict = "up" if result["up"] else f"down: {result['reason']}"
    timing = f" in {result['response_ms']} ms" if result["response_ms"] is not None else ""
    output.say(f"{answer['check']['name']}: {verdict}{timing} (status now {answer['check']['status']})")
    if not result["up"]:
        raise typer.Exit(1)


def _act(ref: str, action: str, as_json: bool, message: str) -> None:
    with _server() as api:
        check: Any = api.post(f"/api/v1/checks/{segment(ref)}/{action}", {})
    _moved(check, as_json, message.format(name=check["name"]))


@check_app.command("pause")
def pause(ref: CheckRef, as_json: AsJson = False) -> None:
    """Pause a check: it stops running, and its firing alert is resolved."""
    _act(ref, "pause", as_json, "Paused check {name}.")


@check_app.command("resume")
def resume(ref: CheckRef, as_json: AsJson = False) -> None:
    """Resume a paused check: it runs again from its next slot."""
    _act(ref, "resume", as_json, "Resumed check {name}.")


@check_app.command("delete")
def delete(ref: CheckRef) -> None:
    """Delete a check and its results; its alert, if firing, is resolved."""
    with _server() as api:
        api.delete(f"/api/v1/checks/{segment(ref)}")
    output.say(f"Deleted check {ref}.")


def register(app: typer.Typer) -> None:
    app.add_typer(check_app, name="check")
