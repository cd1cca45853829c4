"""`tocsin status-page` against the app, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.inprocess import cli_for


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


def test_components_are_made_listed_set_by_hand_and_deleted_from_the_terminal(cli: Cli, api: TestClient) -> None:
    assert cli("status-page", "group", "save", "platform", "--name", "Platform").stdout == (
        "Saved group platform (Platform).\n"
    )
    created = cli(
        "status-page", "component", "create", "api", "--name", "API", "--group", "platform",
        "--service", "api", "--description", "The public API",
    )  # fmt: skip
    assert created.stdout == "Created component api (API).\n"
    [listed] = cli.json("status-page", "component", "list")
    assert (listed["key"], listed["group"], listed["services"]) == ("api", "platform", ["api"])
    assert "API" in cli("status-page", "component", "list").stdout

    assert cli("status-page", "component", "set-status", "api", "major_outage").stdout == (
        "Component api: major_outage.\n"
    )
    assert api.get("/api/v2/status.json").json()["status"]["indicator"] == "critical"
    assert "derived" in cli("status-page", "component", "set-status", "api", "auto").stdout
    refused = cli("status-page", "component", "set-status", "api", "sideways", exit_code=1)
    assert "status" in refused.stderr

    cli("status-page", "component", "delete", "api")
    assert cli.json("status-page", "component", "list") == []


def test_maintenance_is_scheduled_listed_and_canceled(cli: Cli) -> None:
    cli("status-page", "component", "create", "api", "--name", "API")
    made = cli.json(
        "status-page", "maintenance", "schedule", "Database upgrade", "--starts", "2026-12-01T22:00:00Z",
        "--ends", "2026-12-01T23:00:00Z", "--component", "api",
    )  # fmt: skip
    assert made["components"] == ["api"]
    assert "Database upgrade" in cli("status-page", "maintenance", "list").stdout
    cli("status-page", "maintenance", "cancel", str(made["id"]))
    [listed] = cli.json("status-page", "maintenance", "list")
    assert listed["canceled_at"] is not None


def test_an_admin_adds_lists_and_removes_subscribers(
    api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = cli_for(api, personas.alice.token, tmp_path, monkeypatch)
    made = admin.json("status-page", "subscriber", "add", "https://hooks.example.com/status", "--secret", "x" * 20)
    assert (made["kind"], made["confirmed"]) == ("webhook", True)
    assert admin("status-page", "subscriber", "add", "ceo@example.com").stdout.startswith("Subscribed email")
    assert [s["address"] for s in admin.json("status-page", "subscriber", "list")] == [
        "https://hooks.example.com/status",
        "ceo@example.com",
    ]
    admin("status-page", "subscriber", "remove", str(made["id"]))
    assert "hooks.example.com" not in admin("status-page", "subscriber", "list").stdout
