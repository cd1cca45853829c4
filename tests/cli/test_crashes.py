"""`tocsin crash` against the app, on SQLite and PostgreSQL: the DSN from `integration create`,
then list, show, resolve (and the regression after it), ignore, reopen and releases."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.inprocess import cli_for
from tests.support.protocols import raw
from tocsin.cli.main import app
from tocsin.clock import FrozenClock
from tocsin.services import integrations

ENVELOPE = raw("sentry_envelope_exception.envelope")


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


def project(cli: Cli) -> tuple[int, str]:
    created = cli("integration", "create", "--service", "api", "--kind", "sentry")
    assert "Paste into Sentry SDKs (the DSN: Sentry.init(dsn=...)):" in created.stdout
    dsn = next(line.strip() for line in created.stdout.splitlines() if line.strip().startswith("http://"))
    key, _, rest = dsn.removeprefix("http://").partition("@")
    return int(rest.rsplit("/", 1)[1]), key


def report(api: TestClient, project_id: int, key: str, release: str = "checkout@1.4.2") -> None:
    header, _item, event = ENVELOPE.split(b"\n")[:3]
    data = json.loads(event)
    data.update(event_id=uuid.uuid4().hex, release=release)
    body = b"\n".join([header, b'{"type":"event"}', json.dumps(data).encode()])
    answer = api.post(
        f"/api/{project_id}/envelope/", content=body, headers={"X-Sentry-Auth": f"Sentry sentry_key={key}"}
    )
    assert answer.status_code == 200, answer.text


def test_a_crash_is_listed_shown_with_its_stack_and_resolved_from_the_terminal(
    cli: Cli, api: TestClient, clock: FrozenClock
) -> None:
    project_id, key = project(cli)
    report(api, project_id, key)
    clock.advance(timedelta(minutes=3))
    report(api, project_id, key)

    table = cli("crash", "list").stdout
    assert "ZeroDivisionError: division by zero" in table
    assert "open · alerting" in table
    [listed] = cli.json("crash", "list", "--status", "open")
    assert listed["count"] == 2
    group = str(listed["id"])

    shown = cli("crash", "show", group).stdout
    assert f"Crash {group} · error · open · service api" in shown
    assert "Culprit:    __main__ in charge" in shown
    assert "__main__:14 in charge" in shown
    assert "return amount / 0  # ZeroDivisionError" in shown
    assert cli.json("crash", "show", group)["by_release"][0]["events"] == 2

    resolved = cli("crash", "resolve", group, "--release", "checkout@1.4.3").stdout
    assert resolved.startswith(f"Resolved crash {group} in checkout@1.4.3: ZeroDivisionError")
    assert cli.json("crash", "list", "--status", "open") == []
    report(api, project_id, key, release="checkout@1.5.0")
    [regressed] = cli.json("crash", "list", "--status", "open")
    assert regressed["regressed_at"] is not None

    assert cli("crash", "ignore", group).stdout.startswith(f"Ignored crash {group}")
    assert cli("crash", "reopen", group).stdout.startswith(f"Reopened crash {group}")
    wrong = cli("crash", "reopen", group, exit_code=1)
    assert "is open already" in wrong.stderr


def test_releases_show_the_crash_free_rate(cli: Cli, api: TestClient) -> None:
    project_id, key = project(cli)
    sessions = [
        {
            "sid": uuid.uuid4().hex,
            "init": True,
            "status": status,
            "attrs": {"release": "shop@2.0", "environment": "prod"},
        }
        for status in ("exited", "exited", "exited", "crashed")
    ]
    body = b"{}\n" + b"\n".join(b'{"type":"session"}\n' + json.dumps(s).encode() for s in sessions)
    assert api.post(f"/api/{project_id}/envelope/?sentry_key={key}", content=body).status_code == 200
    table = cli("crash", "releases").stdout
    assert "shop@2.0" in table
    assert "75.00%" in table
    [row] = cli.json("crash", "releases", "--environment", "prod")
    assert (row["sessions"], row["crashed"]) == (4, 1)
    assert cli("crash", "list").stdout.strip() == "No crash groups."


def test_a_sentry_project_takes_its_spike_rule_from_the_terminal(cli: Cli) -> None:
    created = cli.json(
        "integration", "create", "--service", "api", "--kind", "sentry", "--spike-events", "20", "--spike-minutes", "5"
    )
    assert created["settings"] == {"auto_resolve": "resolve", "spike_events": 20, "spike_minutes": 5}
    wrong = cli("integration", "create", "--service", "api", "--kind", "sentry", "--spike-minutes", "0", exit_code=1)
    assert "spike_minutes must be a whole number from 1 to 10080" in wrong.stderr


def test_a_sentry_project_declared_in_the_config_file_prints_its_dsn_once(
    tmp_path: Path, db_url: str, personas: Personas, sessions: sessionmaker[Session]
) -> None:
    config = tmp_path / "tocsin.yaml"
    config.write_text("integrations:\n  - {service: api, kind: sentry, settings: {spike_events: 20}}\n")
    env = {"TOCSIN_DATABASE_URL": db_url, "TOCSIN_URL": None, "XDG_CONFIG_HOME": "/nonexistent"}
    dry = CliRunner().invoke(app, ["apply", "-f", str(config), "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "    auto_resolve: resolve" in dry.stdout  # a crash resolved by a person resolves its incident
    assert "    spike_events: 20" in dry.stdout
    assert "    spike_minutes: 10" in dry.stdout
    applied = CliRunner().invoke(
        app, ["apply", "-f", str(config)], env={**env, "TOCSIN_PUBLIC_URL": "https://tocsin.example.com"}
    )
    assert applied.exit_code == 0, applied.output
    key = applied.stdout.splitlines()[-2].strip()
    with sessions() as db:
        found = integrations.find_by_key(db, key)
    assert found is not None
    assert found.settings == {"group_by": [], "group_window_s": 300, "auto_resolve": "resolve", "spike_events": 20}
    assert applied.stdout.splitlines()[-1] == f"  sentry: https://{key}@tocsin.example.com/{found.id}"
    again = CliRunner().invoke(app, ["apply", "-f", str(config)], env=env)
    assert again.stdout == f"No changes: the database matches {config}.\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text("integrations:\n  - {service: api, kind: sentry, settings: {spike_minutes: 0}}\n")
    refused = CliRunner().invoke(app, ["validate", "-f", str(bad)], env=env)
    assert refused.exit_code != 0
    assert "integrations[0].settings.spike_minutes" in refused.output
