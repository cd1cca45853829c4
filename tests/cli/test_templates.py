"""`tocsin template` and `tocsin incident update --template` against the app, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.inprocess import cli_for


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(api, personas.alice.token, tmp_path, monkeypatch)


def test_templates_are_listed_edited_previewed_and_reset_from_the_terminal(cli: Cli, tmp_path: Path) -> None:
    listed = cli.json("template", "list")
    assert [t["key"] for t in listed["items"]][:2] == ["internal_declaration", "internal_update"]
    assert "customer_notice" in cli("template", "list").stdout
    assert cli("template", "show", "customer_notice").stdout.startswith("customer_notice  Customer notice")

    edit = tmp_path / "notice.txt"
    edit.write_text("{{ title }}: we are on it.\n")
    assert cli("template", "edit", "customer_notice", "--file", str(edit)).stdout == "Saved template customer_notice.\n"
    assert cli("template", "preview", "customer_notice").stdout == "Checkout returns 500s: we are on it.\n"

    bad = tmp_path / "bad.txt"
    bad.write_text("ok\n{{ titel }}\n")
    refused = cli("template", "edit", "customer_notice", "--file", str(bad), exit_code=1)
    assert "line 2: unknown name 'titel'" in refused.stderr

    assert "shipped default again" in cli("template", "reset", "customer_notice").stdout
    assert cli.json("template", "show", "customer_notice")["edited"] is False


def test_an_update_is_posted_from_a_template_and_previewed_with_the_incident(cli: Cli) -> None:
    incident = cli.json(
        "incident", "declare", "--title", "Checkout returns 500s", "--severity", "P1", "--service", "api"
    )
    ref = incident["human_id"]
    shown = cli("incident", "show", ref).stdout
    assert "Next update by" in shown
    assert "2026-11-23 10:00 UTC" in shown  # customers are told within an hour of a P1
    preview = cli("template", "preview", "internal_update", "--incident", ref).stdout
    assert preview.startswith(f"[P1] {ref} update: Checkout returns 500s\n")
    entry = cli.json("incident", "update", ref, "--template", "internal_update")
    assert entry["summary"] == preview.strip()
    assert entry["data"]["template"] == "internal_update"
    assert "--template" in cli("incident", "update", ref, exit_code=2).stderr
