"""`tocsin drill`, against the app on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.services.test_drills import on_call
from tests.support.inprocess import cli_for
from tocsin.clock import FrozenClock


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


def test_a_responder_runs_a_drill_and_reads_its_report(
    cli: Cli, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    assert cli("drill", "list").stdout.startswith("No drills yet.")
    on_call(sessions, clock)
    started = cli("drill", "start", "database-outage").stdout
    assert "DRILL 1 started: database-outage on api" in started
    assert "The status page and customers are not told." in started
    [listed] = cli.json("drill", "list")
    ref = listed["incident"]
    assert (listed["state"], listed["severity"]) == ("running", "P1")
    assert "database-outage" in cli("drill", "list").stdout
    assert "auth-broken" in cli("drill", "scenarios").stdout

    clock.advance(timedelta(minutes=20))
    cli("incident", "ack", ref)
    shown = cli("drill", "show", "1").stdout
    assert "acknowledge" in shown
    assert "missed" in shown  # 20 minutes against P1's 15
    report = cli.json("drill", "show", "1")["report"]
    assert report["measures"][0] == {
        "milestone": "acknowledge",
        "at": "2026-11-23T09:20:00Z",
        "took_s": 1200,
        "target_s": 900,
        "verdict": "missed",
    }

    stopped = cli("drill", "stop", "1").stdout
    assert "Drill 1 stopped" in stopped
    assert cli.json("drill", "show", "1")["state"] == "canceled"
    wrong = cli("drill", "stop", "1", exit_code=1)
    assert "has already ended" in wrong.stderr


def test_an_unknown_scenario_is_one_line_on_stderr(cli: Cli) -> None:
    wrong = cli("drill", "start", "meteor-strike", "--service", "api", exit_code=1)
    assert wrong.stderr.startswith("error: unknown scenario 'meteor-strike'")
