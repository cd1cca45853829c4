"""The remote commands against a real `tocsin serve`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import Personas
from tests.support.server import ServerProcess, free_port
from tocsin.cli.main import app

INC = "INC-2026-11-23-001"


@dataclass
class Cli:
    """`tocsin` as a person at a terminal runs it, pointed at one server with one token."""

    url: str | None
    token: str | None
    config_home: Path
    clock_file: Path | None = None

    def env(self, token: str | None = None) -> dict[str, str | None]:
        # None unsets a variable, as if it had never been exported.
        return {
            "TOCSIN_URL": self.url,
            "TOCSIN_TOKEN": token or self.token,
            "XDG_CONFIG_HOME": str(self.config_home),
            # The CLI reads the server's test clock too, so "5m ago" is stable.
            "TOCSIN_TEST_CLOCK_FILE": str(self.clock_file) if self.clock_file else None,
            # Wide enough that no table cell wraps under an assertion.
            "COLUMNS": "200",
        }

    def __call__(self, *args: str, token: str | None = None, exit_code: int = 0, typed: str | None = None) -> Result:
        result = CliRunner().invoke(app, list(args), env=self.env(token), input=typed)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == exit_code, f"tocsin {' '.join(args)}:\n{result.output}"
        return result

    def json(self, *args: str, token: str | None = None) -> Any:
        return json.loads(self(*args, "--json", token=token).stdout)


@pytest.fixture
def cli(server: ServerProcess, personas: Personas, tmp_path: Path) -> Cli:
    """Bob responds; tests hand other personas' tokens to single commands."""
    return Cli(server.url, personas.bob.token, tmp_path / "config", server.clock_file)


@pytest.mark.slow
def test_it_declares_and_resolves_an_incident_end_to_end(cli: Cli, server: ServerProcess, personas: Personas) -> None:
    declared = cli(
        "incident", "declare", "--severity", "P1", "--service", "api", "--service", "web",
        "--title", "Checkout 500s", "--impact", "Customers cannot pay",
    ).stdout  # fmt: skip
    assert f"Declared {INC}" in declared
    assert "P1 · triggered" in declared
    assert "Checkout 500s" in declared
    assert "api, web" in declared
    assert "Customers cannot pay" in declared
    assert "2026-11-23 09:15 UTC (in 15m) · pending" in declared  # the P1 acknowledge target

    server.advance(timedelta(minutes=4))
    assert cli("ack", INC, "--note", "on it").stdout == f"Acknowledged {INC}.\n"
    server.advance(timedelta(minutes=1))
    assert "is now investigating" in cli("incident", "status", INC, "investigating").stdout
    assigned = cli("incident", "assign", INC, "--role", "commander", "--user", personas.alice.email).stdout
    assert f"Alice Admin <{personas.alice.email}> is now commander of {INC}." in assigned
    server.advance(timedelta(minutes=5))
    assert "Noted on" in cli("incident", "note", INC, "Error rate follows the 08:55 deploy").stdout
    assert "Posted public update" in cli("incident", "update", INC, "We are rolling back", "--public").stdout
    assert f"{INC} is now P0." in cli("incident", "severity", "1", "P0", "--reason", "all regions").stdout
    server.advance(timedelta(minutes=32))
    resolved = cli("incident", "resolve", "1", "--note", "rolled back").stdout
    assert resolved == f"Resolved {INC} 42m after it was declared.\n"

    shown = cli("incident", "show", INC).stdout
    assert "P0 · resolved" in shown
    assert "2026-11-23 09:00 UTC (42m ago)" in shown
    assert "2026-11-23 09:04 UTC (4m after declaration)" in shown
    assert f"Alice Admin <{personas.alice.email}>" in shown

    # The P0's update was due at 09:25: whether the engine's reminder is in depends on when its cycle ran.
    reminders = ("update_overdue", "update_escalated")
    entries = [e for e in cli.json("timeline", INC) if e["data"].get("event") not in reminders]
    assert [(e["kind"], e["summary"]) for e in entries] == [
        ("declared", "Declared P1: Checkout 500s"),
        ("status", "Status triggered → acknowledged: on it"),
        ("status", "Status acknowledged → investigating"),
        ("role", "Incident commander: Alice Admin"),
        ("note", "Error rate follows the 08:55 deploy"),
        ("update", "We are rolling back"),
        ("severity", "Severity P1 → P0: all regions"),
        ("status", "Status investigating → resolved: rolled back"),
    ]
    assert entries[5]["data"] == {"public": True}

    table = cli("timeline", INC).stdout
    positions = [table.index(e["summary"]) for e in entries]
    assert positions == sorted(positions), table
    assert "2026-11-23 09:42 UTC" in table
    assert "bob@example.com" in table


@pytest.mark.slow
def test_every_listing_and_show_prints_the_api_answer_as_json(cli: Cli, personas: Personas) -> None:
    declared = cli.json("incident", "declare", "-s", "P2", "-t", "Slow search", "--commander", personas.bob.email)
    assert declared["human_id"] == INC
    assert declared["roles"]["commander"]["user"] == personas.bob.email
    assert cli.json("incident", "show", INC) == cli.json("incident", "show", "1") == declared
    acked = cli.json("incident", "ack", INC)
    assert acked["status"] == "acknowledged"
    assert acked["acknowledged_at"] is not None

    page = cli.json("incident", "list")
    assert (page["total"], page["limit"], page["offset"]) == (1, 50, 0)
    assert [i["human_id"] for i in page["items"]] == [INC]
    assert [e["kind"] for e in cli.json("incident", "timeline", INC)] == ["declared", "role", "status"]

    me = cli.json("whoami")
    assert (me["user"]["email"], me["user"]["name"], me["scope"]) == (personas.bob.email, "Bob Responder", "write")
    assert {s["key"] for s in cli.json("service", "list")} == {"api", "web"}
    assert cli.json("team", "list")[0]["members"] == [personas.alice.email, personas.bob.email]
    assert {personas.alice.email, personas.charlie.email} <= {u["email"] for u in cli.json("user", "list")}
    schemes = cli.json("severity", "list")
    assert [lv["name"] for lv in next(s for s in schemes if s["active"])["levels"]] == ["P0", "P1", "P2", "P3"]
    assert "commander" in {r["key"] for r in cli.json("role", "list")}

    created = cli.json("service", "create", "billing", "--name", "Billing", "--team", "platform")
    assert (created["key"], created["team"]) == ("billing", "platform")
    user = cli.json("user", "create", "dora@example.com", "--name", "Dora", token=personas.alice.token)
    assert (user["email"], user["role"]) == ("dora@example.com", "responder")

    # People get tables with the same facts.
    assert "billing" in cli("service", "list").stdout
    assert "Dora" in cli("user", "list").stdout
    assert "platform" in cli("team", "list").stdout
    assert "Incident commander" in cli("role", "list").stdout
    levels = cli("severity", "list").stdout
    assert "Scheme P (active)" in levels
    assert "15m" in levels
    assert f"Bob Responder <{personas.bob.email}> (write scope) on {cli.url}" in cli("whoami").stdout


@pytest.mark.slow
def test_it_lists_incidents_by_status_severity_service_and_page(cli: Cli, server: ServerProcess) -> None:
    for severity, service, title in (("P1", "api", "API down"), ("P2", "web", "Web slow"), ("P3", "web", "Typo")):
        cli("incident", "declare", "-s", severity, "--service", service, "-t", title)
        server.advance(timedelta(minutes=10))
    cli("incident", "declare", "-s", "P3", "-t", "Game day", "--drill")
    cli("incident", "resolve", "INC-2026-11-23-001")
    cli("incident", "cancel", "INC-2026-11-23-003", "--reason", "false alarm")
    cli("incident", "ack", "INC-2026-11-23-002")

    def titles(*args: str) -> list[str]:
        return [i["title"] for i in cli.json("incident", "list", *args)["items"]]

    assert titles() == ["Game day", "Web slow"]
    assert titles("--status", "closed") == ["Typo", "API down"]
    assert titles("--status", "all") == ["Game day", "Typo", "Web slow", "API down"]
    assert titles("--status", "triggered,canceled") == ["Game day", "Typo"]
    assert titles("--status", "all", "--severity", "P3") == ["Game day", "Typo"]
    assert titles("--status", "all", "--service", "web") == ["Typo", "Web slow"]
    assert titles("--no-drill") == ["Web slow"]
    assert titles("--drill") == ["Game day"]
    second = cli.json("incident", "list", "--status", "all", "--limit", "1", "--offset", "1")
    assert (second["total"], [i["title"] for i in second["items"]]) == (4, ["Typo"])

    table = cli("incident", "list", "--status", "all", "--limit", "2").stdout
    assert "INC-2026-11-23-004" in table
    assert "triggered (drill)" in table
    assert "2026-11-23 09:20 UTC (10m ago)" in table
    assert "API down" not in table
    assert "1 to 2 of 4; see more with --offset 2" in table
    assert cli("incident", "list", "--severity", "P0").stdout == "No incidents match.\n"


@pytest.mark.slow
def test_the_server_s_refusals_are_one_clear_line_and_a_non_zero_exit(cli: Cli, personas: Personas) -> None:
    bad_token = cli("incident", "list", token="tcn_not-a-real-token", exit_code=4)
    assert bad_token.stdout == ""
    assert bad_token.stderr == "error: unknown or revoked token; run `tocsin login` or set TOCSIN_TOKEN\n"

    read_only = cli("incident", "declare", "-s", "P1", "-t", "x", token=personas.charlie.token, exit_code=1)
    assert read_only.stderr == "error: this needs a token with the write scope; yours has read\n"
    assert cli.json("incident", "list", token=personas.charlie.token)["total"] == 0

    unknown = cli("incident", "declare", "-s", "P9", "-t", "x", "--service", "api", exit_code=1)
    assert unknown.stderr.startswith("error: unknown severity 'P9'")
    assert unknown.stderr.endswith("(field: severity)\n")
    several = cli("incident", "declare", "-s", "", "-t", "", exit_code=1).stderr
    assert several.count("\n") == 1
    assert "title: String should have at least 1 character" in several
    assert "severity: String should have at least 1 character" in several

    cli("incident", "declare", "-s", "P2", "-t", "Slow search")
    cli("incident", "resolve", INC)
    backwards = cli("incident", "status", INC, "identified", exit_code=1)
    assert backwards.stderr == f"error: {INC}: cannot move back from resolved to identified (field: status)\n"
    bogus = cli("incident", "status", INC, "fixed", exit_code=1).stderr
    assert bogus.startswith("error: unknown status 'fixed'; expected one of triggered, acknowledged")
    assert cli("incident", "list", "--status", "fixed", exit_code=1).stderr.startswith("error: unknown status 'fixed'")
    assert cli("incident", "show", "INC-2026-11-23-999", exit_code=1).stderr == (
        "error: no incident 'INC-2026-11-23-999' (field: incident)\n"
    )
    # A reference is one path segment, never a way to another endpoint.
    assert "Not Found: GET /api/v1/incidents/..%2Ftokens" in cli("incident", "show", "../tokens", exit_code=1).stderr
    users = cli("user", "create", "eve@example.com", exit_code=1).stderr
    assert users == "error: this needs a token with the admin scope; yours has write\n"


@pytest.mark.slow
def test_login_stores_a_private_config_that_later_commands_use(
    server: ServerProcess, personas: Personas, tmp_path: Path
) -> None:
    config_home = tmp_path / "config"
    stored = config_home / "tocsin" / "config.json"
    logged_out = Cli(None, None, config_home, server.clock_file)

    before = logged_out("incident", "list", exit_code=2)
    assert "no Tocsin server configured: run `tocsin login --url URL --token TOKEN`" in before.stderr
    prompted = logged_out("login", "--url", server.url, typed="tcn_wrong\n", exit_code=4)
    assert "API token: \n" in prompted.stdout
    assert "tcn_wrong" not in prompted.output
    assert not stored.exists()

    # The real command, as a separate process with nothing but the stored login to go on.
    env = {k: v for k, v in os.environ.items() if k not in ("TOCSIN_URL", "TOCSIN_TOKEN")}
    env.update(XDG_CONFIG_HOME=str(config_home), COLUMNS="200", TOCSIN_TEST_CLOCK_FILE=str(server.clock_file))

    def tocsin(*args: str) -> subprocess.CompletedProcess[str]:
        run = [sys.executable, "-m", "tocsin", *args]
        done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done

    login = tocsin("login", "--url", server.url + "/", "--token", personas.alice.token)
    assert f"Logged in to {server.url} as Alice Admin <{personas.alice.email}> (admin scope)." in login.stdout
    assert personas.alice.token not in login.stdout + login.stderr
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text()) == {"url": server.url, "token": personas.alice.token}
    assert json.loads(tocsin("incident", "declare", "-s", "P1", "-t", "Checkout 500s", "--json").stdout)["id"] == 1
    assert INC in tocsin("incident", "list").stdout

    assert "Alice Admin" in logged_out("whoami").stdout
    # Each variable overrides its own half of the stored login.
    assert "Charlie Viewer" in logged_out("whoami", token=personas.charlie.token).stdout

    assert logged_out("logout").stdout == f"Removed {stored}.\n"
    assert not stored.exists()
    logged_out("whoami", exit_code=2)


def test_an_unreachable_server_is_named_with_its_own_exit_code(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    cli = Cli(url, "tcn_whatever", tmp_path)
    result = cli("incident", "list", exit_code=3)
    assert result.stderr == f"error: cannot reach Tocsin at {url}: is `tocsin serve` running?\n"
    assert result.stdout == ""
    assert cli("login", "--url", url, "--token", "tcn_whatever", exit_code=3).stderr.startswith("error: cannot reach")
    assert not (tmp_path / "tocsin").exists()


def test_a_missing_url_or_token_says_how_to_configure(tmp_path: Path) -> None:
    runner = CliRunner()
    base = {"XDG_CONFIG_HOME": str(tmp_path), "TOCSIN_URL": None, "TOCSIN_TOKEN": None}
    nothing = runner.invoke(app, ["whoami"], env=base)
    assert nothing.exit_code == 2
    assert "set TOCSIN_URL and TOCSIN_TOKEN" in nothing.stderr
    no_token = runner.invoke(app, ["whoami"], env={**base, "TOCSIN_URL": "http://127.0.0.1:9"})
    assert no_token.exit_code == 2
    assert no_token.stderr == "error: no API token configured: run `tocsin login` or set TOCSIN_TOKEN\n"
    not_a_url = runner.invoke(app, ["whoami"], env={**base, "TOCSIN_URL": "localhost:8080", "TOCSIN_TOKEN": "t"})
    assert not_a_url.exit_code == 2
    assert "is not a server URL" in not_a_url.stderr
    assert runner.invoke(app, ["logout"], env=base).stdout == "Not logged in; nothing to remove.\n"


def test_it_edits_an_incident_and_creates_a_team(cli: Cli, personas: Personas) -> None:
    cli("incident", "declare", "--severity", "P2", "--service", "api", "--title", "Slow search")
    edited = cli.json("incident", "edit", INC, "--title", "Search times out", "--service", "api", "--service", "web")
    assert (edited["title"], edited["services"]) == ("Search times out", ["api", "web"])
    timeline = cli.json("timeline", INC)
    assert [e["summary"] for e in timeline[-2:]] == ["Title changed", "Services changed"]
    nothing = cli("incident", "edit", INC, exit_code=2)
    assert "nothing to change" in nothing.output

    team = cli.json(
        "team", "create", "payments", "--name", "Payments", "--member", personas.bob.email, token=personas.alice.token
    )
    assert (team["key"], team["members"]) == ("payments", [personas.bob.email])
    refused = cli("team", "create", "ops", exit_code=1)
    assert "admin scope" in refused.output


def test_services_and_severity_levels_show_whether_they_page_through_quiet_hours(cli: Cli) -> None:
    made = cli.json("service", "create", "payments", "--emergency")
    assert made["emergency"] is True
    assert cli.json("service", "edit", "payments", "--no-emergency")["emergency"] is False
    assert cli.json("service", "edit", "api", "--emergency")["emergency"] is True
    assert cells(cli("service", "list").stdout, "Emergency") == {"api": "yes", "payments": "no", "web": "no"}
    assert "nothing to change" in cli("service", "edit", "api", exit_code=2).output

    levels = cells(cli("severity", "list").stdout, "Emergency")
    assert [level for level, emergency in levels.items() if emergency == "yes"] == ["P0", "SEV1"]
    assert levels["P1"] == "no"


def cells(table: str, column: str) -> dict[str, str]:
    """First cell of each row → the cell under `column`, for every table printed."""
    found: dict[str, str] = {}
    index = None
    for line in table.splitlines():
        parts = [part.strip() for part in line.replace("┃", "│").split("│")]
        if column in parts:
            index = parts.index(column)
        elif index is not None and len(parts) > index:
            found[parts[0]] = parts[index]
    return found
