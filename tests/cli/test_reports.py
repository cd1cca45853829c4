"""`tocsin report` and `tocsin audit` against the app, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.inprocess import cli_for
from tocsin.clock import FrozenClock


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(api, personas.charlie.token, tmp_path, monkeypatch)


def test_report_prints_the_figures_computed_from_the_incidents(
    cli: Cli, personas: Personas, clock: FrozenClock, tmp_path: Path
) -> None:
    ref = cli.json(
        "incident",
        "declare",
        "--severity",
        "P1",
        "--service",
        "api",
        "--title",
        "Checkout 500s",
        token=personas.bob.token,
    )["human_id"]
    clock.advance(timedelta(minutes=7))
    cli("incident", "ack", ref, token=personas.bob.token)
    clock.advance(timedelta(minutes=53))
    cli("incident", "resolve", ref, token=personas.bob.token)

    shown = cli("report", "--since", "30d").stdout
    assert "1 incident declared 2026-10-24 10:00 UTC to 2026-11-23 10:00 UTC" in shown
    assert "MTTA 7m median" in shown
    assert "MTTR 1h median" in shown
    assert "By severity" in shown
    assert "By team" in shown
    assert "platform" in shown
    assert "Response targets" in shown
    assert "nobody was paged" in shown
    assert "Action items: 0 of 0 done (—), 0 open, 0 overdue" in shown

    assert cli.json("report", "--since", "30d")["overall"]["resolve"]["median_s"] == 3600
    saved = tmp_path / "report.csv"
    assert cli("report", "--since", "30d", "--csv", str(saved)).stdout == f"Saved the report's CSV to {saved}\n"
    assert "overall,all,acknowledge_median_s,420\n" in saved.read_text()
    assert cli("report", "--csv", "-").stdout.startswith("section,group,metric,value\n")
    assert cli.json("report", "--drills")["drills"] is True


def test_report_refuses_a_bad_window(cli: Cli) -> None:
    wrong = cli("report", "--since", "soon", exit_code=1)
    assert wrong.stderr.startswith("error: 'soon' is not a duration")


def test_audit_prints_each_score_the_total_and_the_next_steps(cli: Cli) -> None:
    shown = cli("audit").stdout
    assert "Escalation policy on every service" in shown
    assert "0 of 2 services have an escalation policy" in shown
    assert "pipeline " in shown
    assert "% complete" in shown
    assert "Next steps" in shown
    assert "1. " in shown
    assert cli.json("audit", "--team", "platform")["team"] == "platform"
    assert cli("audit", "--team", "nope", exit_code=1).stderr.startswith("error: no team 'nope'")
