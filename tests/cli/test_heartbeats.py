"""`tocsin heartbeat` against the app, on SQLite and PostgreSQL: create, list, show, pause, resume, delete."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.inprocess import cli_for
from tocsin.clock import FrozenClock
from tocsin.config import Settings


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


def test_a_heartbeat_made_in_the_terminal_prints_the_curl_line_to_put_in_the_crontab(
    cli: Cli, settings: Settings
) -> None:
    created = cli("heartbeat", "create", "nightly-backup", "--service", "api", "--period", "1d", "--grace", "30m")
    [listed] = cli.json("heartbeat", "list")
    url = f"{settings.public_url}/ping/{listed['uuid']}"
    assert created.stdout.startswith(
        "Created heartbeat nightly-backup for service api: every 1d, grace 30m.\n"
        f"Ping it at the end of each run:\n  curl -fsS -m 10 --retry 5 {url}\n"
    )
    assert (listed["period_s"], listed["grace_s"], listed["status"]) == (86400, 1800, "new")


def test_list_and_show_tell_the_status_the_last_pings_and_their_logs(
    cli: Cli, api: TestClient, clock: FrozenClock
) -> None:
    cli(
        "heartbeat", "create", "db-dump", "--service", "api", "--cron", "0 3 * * *", "--tz", "Europe/Berlin",
        "--grace", "10m", "--max-run", "1h",
    )  # fmt: skip
    code = cli.json("heartbeat", "show", "db-dump")["uuid"]
    api.get(f"/ping/{code}/start")
    clock.advance(timedelta(minutes=12))
    api.post(f"/ping/{code}", content=b"dumped 3 tables\n[red]not markup[/red]\n")

    table = cli("heartbeat", "list").stdout
    assert "db-dump" in table
    assert "cron 0 3 * * * (Europe/Berlin), grace 10m, run ≤ 1h" in table
    assert f"/ping/{code}" in table
    shown = cli("heartbeat", "show", "db-dump").stdout
    assert "db-dump · up · service api" in shown
    assert "Last run:   12m" in shown
    assert "[red]not markup[/red]" in shown
    assert "start" in shown
    detail = cli.json("heartbeat", "show", code, "--pings", "1")
    assert [p["kind"] for p in detail["recent_pings"]] == ["success"]


def test_pause_resume_and_delete(cli: Cli) -> None:
    cli("heartbeat", "create", "queue-worker", "--service", "web", "--period", "5m", "--grace", "5m")
    assert cli("heartbeat", "pause", "queue-worker").stdout == "Paused heartbeat queue-worker.\n"
    assert cli.json("heartbeat", "show", "queue-worker")["status"] == "paused"
    assert cli("heartbeat", "resume", "queue-worker").stdout.startswith("Resumed heartbeat queue-worker;")
    assert cli("heartbeat", "delete", "queue-worker").stdout == "Deleted heartbeat queue-worker.\n"
    assert cli.json("heartbeat", "list") == []
    assert cli("heartbeat", "list").stdout == "No heartbeats.\n"


def test_wrong_input_exits_non_zero_with_one_line(cli: Cli) -> None:
    neither = cli("heartbeat", "create", "x", "--service", "api", exit_code=2)
    assert "give --period or --cron" in neither.stderr
    bad = cli("heartbeat", "create", "x", "--service", "api", "--period", "soon", exit_code=2)
    assert "--period: 'soon' is not a duration" in bad.stderr
    cron = cli("heartbeat", "create", "x", "--service", "api", "--cron", "nightly", exit_code=1)
    assert "not a cron expression" in cron.stderr
    missing = cli("heartbeat", "show", "nope", exit_code=1)
    assert "no heartbeat 'nope'" in missing.stderr


def test_edit_changes_only_what_is_given_and_keeps_the_ping_url(cli: Cli) -> None:
    cli("heartbeat", "create", "db-dump", "--service", "api", "--period", "1d", "--grace", "30m", "--max-run", "1h")
    code = cli.json("heartbeat", "show", "db-dump")["uuid"]
    edited = cli("heartbeat", "edit", "db-dump", "--cron", "0 3 * * *", "--tz", "Europe/Berlin", "--grace", "10m")
    assert edited.stdout == "Edited heartbeat db-dump: cron 0 3 * * * (Europe/Berlin), grace 10m, run ≤ 1h.\n"
    shown = cli.json("heartbeat", "edit", code, "--name", "pg-dump", "--max-run", "none")
    assert (shown["uuid"], shown["name"], shown["period_s"], shown["max_run_s"]) == (code, "pg-dump", None, None)
    assert (shown["cron"], shown["grace_s"]) == ("0 3 * * *", 600)


def test_a_wrong_edit_exits_non_zero_with_one_line(cli: Cli) -> None:
    cli("heartbeat", "create", "db-dump", "--service", "api", "--period", "1d")
    nothing = cli("heartbeat", "edit", "db-dump", exit_code=2)
    assert "nothing to change" in nothing.stderr
    both = cli("heartbeat", "edit", "db-dump", "--period", "1h", "--cron", "0 3 * * *", exit_code=2)
    assert "give --period or --cron, not both" in both.stderr
    short = cli("heartbeat", "edit", "db-dump", "--period", "30s", exit_code=1)
    assert "the period must be between 1 minute and 366 days" in short.stderr
    assert cli.json("heartbeat", "show", "db-dump")["period_s"] == 86400
