"""`tocsin channel` against the app in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.test_declarative import tocsin, write
from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.inprocess import cli_for
from tocsin.cli import channels
from tocsin.storage import models

HOOK = "https://discord.com/api/webhooks/123/s3cret"


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Bob responds; channel changes need Alice's admin token, handed to single commands."""
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


def create_alerts(cli: Cli, personas: Personas) -> str:
    return cli(
        "channel", "create", "alerts", "--kind", "discord", "--address", HOOK, "--mention", "&42",
        "--route", "incident.* min_severity=P2", "--route", "crash.*, deploy.failed service=api",
        token=personas.alice.token,
    ).stdout  # fmt: skip


def test_create_list_show_and_delete(cli: Cli, personas: Personas) -> None:
    assert create_alerts(cli, personas) == "Created channel alerts with 2 routes.\n"
    listing = cli("channel", "list").stdout
    assert "https://discord.com/…" in listing  # Bob sees it masked
    assert "incident.* from every service at P2 or above" in listing
    assert "crash.*, deploy.failed from api" in listing
    [channel] = cli.json("channel", "list")
    assert channel["routes"][1] == {"service": "api", "events": ["crash.*", "deploy.failed"], "min_severity": None}
    shown = cli("channel", "show", "alerts").stdout
    assert "mentions &42 when people are needed" in shown
    assert "1. incident.* from every service at P2 or above" in shown
    assert cli.json("channel", "show", "alerts", token=personas.alice.token)["address"] == HOOK
    assert "admin scope" in cli("channel", "delete", "alerts", exit_code=1).stderr
    assert cli("channel", "delete", "alerts", token=personas.alice.token).stdout == "Deleted channel alerts.\n"
    assert cli("channel", "list").stdout == "No channels yet.\n"


def test_a_bad_route_is_refused_before_anything_is_sent(cli: Cli, personas: Personas) -> None:
    result = cli(
        "channel", "create", "alerts", "--kind", "discord", "--address", HOOK, "--route", "incident.* team=platform",
        token=personas.alice.token, exit_code=2,
    )  # fmt: skip
    assert "'team=platform' is not an option" in result.stderr
    empty = cli(
        "channel", "create", "alerts", "--kind", "discord", "--address", HOOK, "--route", "service=api",
        token=personas.alice.token, exit_code=2,
    )  # fmt: skip
    assert "names no event pattern" in empty.stderr
    unknown = cli(
        "channel", "create", "alerts", "--kind", "discord", "--address", HOOK, "--route", "incident.resolve",
        token=personas.alice.token, exit_code=1,
    )  # fmt: skip
    assert "unknown event type 'incident.resolve'" in unknown.stderr


def test_a_test_post_that_the_engine_sends_exits_0(
    cli: Cli, personas: Personas, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    create_alerts(cli, personas)

    def engine_sends(_seconds: float) -> None:
        # Instead of waiting, what a deliveries cycle records for a post that reached Discord.
        with sessions() as db:
            db.execute(update(models.Notification).values(status="sent", attempts=1))
            db.commit()

    monkeypatch.setattr(channels, "_sleep", engine_sends)
    assert cli("channel", "test", "alerts").stdout == "Posted to alerts.\n"


def test_a_test_post_nobody_sends_exits_1_saying_so(cli: Cli, personas: Personas) -> None:
    create_alerts(cli, personas)
    result = cli("channel", "test", "alerts", "--timeout", "0", exit_code=1)
    assert "still pending after 0s; is the engine running?" in result.stderr
    assert (
        cli("channel", "test", "deploys", exit_code=1).stderr.strip() == "error: no channel 'deploys' (field: channel)"
    )


def test_validate_counts_channels_and_names_the_services_and_severities_they_route(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        services: [{key: api}]
        channels:
          - name: alerts
            kind: discord
            address_env: ALERTS_WEBHOOK
            routes:
              - {events: ["incident.*"], min_severity: P2}
              - {service: api, events: ["crash.*"]}
              - {service: billing, events: ["deploy.*"]}
        """,
    )
    result = tocsin("validate", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{path} is valid: 1 service, 1 channel",
        "Not declared in the file; `tocsin apply` looks for them in the database:",
        f"  {path}:7: severity 'P2'",
        f"  {path}:9: service 'billing'",
    ]
