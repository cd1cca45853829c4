"""`tocsin change` and the changes `tocsin incident show` prints, against the app on SQLite and PostgreSQL."""

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
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


def test_a_pipeline_records_a_deploy_and_the_list_shows_it(cli: Cli) -> None:
    made = cli(
        "change", "record", "--service", "api", "--version", "v1.4.2", "--env", "production", "--status", "success",
        "--duration", "95", "--commit", "3484a3f", "--author", "dana", "--url", "https://ci.example.com/p/1432",
    )  # fmt: skip
    assert made.stdout == "Recorded change 1 of api: Deploy of api v1.4.2 to production: success\n"
    [listed] = cli.json("change", "list", "--service", "api")
    assert (listed["version"], listed["environment"], listed["duration_s"], listed["commit"]) == (
        "v1.4.2", "production", 95, "3484a3f"
    )  # fmt: skip
    table = cli("change", "list").stdout
    assert "v1.4.2" in table
    assert "https://ci.example.com/p/1432" in table
    assert cli("change", "list", "--service", "web").stdout == "No changes.\n"


def test_bad_input_is_one_line_on_stderr(cli: Cli) -> None:
    wrong = cli("change", "record", "--service", "api", "--status", "done", exit_code=1)
    assert wrong.stderr.startswith("error: status must be one of started, success, failure, canceled")
    assert cli("change", "list", exit_code=0).stdout == "No changes.\n"


def test_incident_show_prints_the_changes_before_it(cli: Cli, clock: FrozenClock) -> None:
    cli("change", "record", "--service", "api", "--version", "v1", "--at", "2026-11-23T01:00:00Z")
    cli("change", "record", "--service", "api", "--version", "v2", "--summary", "Bad deploy of checkout")
    cli("change", "record", "--service", "web", "--version", "w9")
    clock.advance(timedelta(minutes=20))
    ref = cli.json("incident", "declare", "--severity", "P2", "--service", "api", "--title", "Checkout 500s")[
        "human_id"
    ]

    shown = cli("incident", "show", ref).stdout
    assert "Changes to its services in the 6h before it" in shown
    assert "Bad deploy of checkout" in shown
    assert "w9" not in shown  # another service
    assert "Deploy of api v1" not in shown  # 8 hours before
    assert cli.json("incident", "show", ref)["human_id"] == ref
    listed = cli.json("change", "list", "--incident", ref, "--hours", "9")["items"]
    assert [c["version"] for c in listed] == ["v2", "v1"]
    assert "none" in cli("change", "list", "--incident", ref, "--hours", "0.1").stdout
