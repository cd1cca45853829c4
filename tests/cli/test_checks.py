"""`tocsin check` against the app, on SQLite and PostgreSQL: create, list, show, run-now, pause, resume, delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.inprocess import cli_for
from tests.support.probe_servers import HttpTarget, http_target


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with http_target() as server:
        yield server


def test_an_http_check_made_in_the_terminal_runs_now_and_shows_its_uptime(cli: Cli, target: HttpTarget) -> None:
    created = cli(
        "check", "create", "api-health", "--service", "api", "--http", f"{target.url}/healthz",
        "--condition", '$.status == "ok"', "--header", "Authorization: Bearer probe", "--interval", "30s",
    )  # fmt: skip
    assert created.stdout == (
        f"Created check api-health for service api: GET {target.url}/healthz, every 30s, down after 3 failures.\n"
    )
    ran = cli("check", "run-now", "api-health")
    assert ran.stdout.startswith("api-health: up in ")
    assert ran.stdout.endswith("(status now up)\n")
    assert target.behaviour.requests[0][2]["Authorization"] == "Bearer probe"

    target.behaviour.body = b'{"status": "degraded"}'
    failed = cli("check", "run-now", "api-health", exit_code=1)
    assert 'down: $.status == "ok" is false ($.status is "degraded")' in failed.stdout

    [listed] = cli.json("check", "list")
    assert (listed["name"], listed["kind"], listed["interval_s"], listed["status"]) == ("api-health", "http", 30, "up")
    table = cli("check", "list").stdout
    assert "api-health" in table
    assert "GET" in table
    shown = cli("check", "show", "api-health").stdout
    assert "api-health · up · service api" in shown
    assert "50.000%" in shown  # 24h: one up, one down
    assert "degraded" in shown
    detail = cli.json("check", "show", "api-health", "--results", "1")
    assert [r["up"] for r in detail["recent_results"]] == [False]


def test_tcp_dns_and_tls_checks_are_made_from_their_options(cli: Cli) -> None:
    cli("check", "create", "db", "--service", "api", "--tcp", "db.internal:5432")
    cli(
        "check", "create", "api-dns", "--service", "api", "--dns", "api.example.com", "--expect", "10.0.0.7",
        "--nameserver", "10.0.0.2:5353",
    )  # fmt: skip
    cli("check", "create", "cert", "--service", "web", "--tls", "example.com", "--warn-days", "21")
    found = {c["name"]: c for c in cli.json("check", "list")}
    assert found["db"]["spec"] == {"host": "db.internal", "port": 5432}
    assert found["api-dns"]["spec"] == {
        "name": "api.example.com", "record_type": "A", "expect": "10.0.0.7", "nameserver": "10.0.0.2:5353",
    }  # fmt: skip
    assert found["cert"]["spec"] == {"host": "example.com", "port": 443, "warn_days": 21}
    assert [c["name"] for c in cli.json("check", "list", "--service", "web")] == ["cert"]


def test_a_bad_check_is_refused_with_the_field_and_nothing_is_made(cli: Cli) -> None:
    refused = cli("check", "create", "x", "--service", "api", "--http", "ftp://nope", exit_code=1)
    assert refused.stderr.endswith("(field: spec.url)\n")
    assert cli("check", "create", "x", "--service", "api", exit_code=2).stderr == (
        "error: give one of --http, --tcp, --dns or --tls\n"
    )
    assert cli.json("check", "list") == []


def test_pause_resume_and_delete(cli: Cli) -> None:
    cli("check", "create", "db", "--service", "api", "--tcp", "db.internal:5432")
    assert cli("check", "pause", "db").stdout == "Paused check db.\n"
    assert cli.json("check", "show", "db")["status"] == "paused"
    assert cli("check", "resume", "db").stdout == "Resumed check db.\n"
    assert cli("check", "delete", "db").stdout == "Deleted check db.\n"
    assert cli.json("check", "list") == []
