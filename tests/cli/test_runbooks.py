"""`tocsin runbook` and `tocsin incident checklist|tick|untick|handoff`, against the app on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.inprocess import cli_for

RUNBOOK = {
    "key": "api-outage",
    "name": "API outage",
    "services": ["api"],
    "links": [{"title": "API wiki", "url": "https://wiki.example.com/api"}],
    "phases": [{"name": "Triage", "time_frame": "first 5 minutes", "items": [{"text": "Check the API dashboard"}]}],
}


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


def test_runbook_list_and_show(cli: Cli, api: TestClient, personas: Personas) -> None:
    assert api.post("/api/v1/runbooks", json=RUNBOOK, headers=personas.alice.headers).status_code == 201
    listed = cli("runbook", "list").stdout
    assert "api-outage" in listed
    assert "Incident response (shipped default)" in listed
    assert [r["key"] for r in cli.json("runbook", "list")] == ["api-outage", "default"]
    shown = cli("runbook", "show", "default").stdout
    assert "first 5 minutes" in shown
    assert "Write the postmortem" in shown
    assert "https://wiki.example.com/api" in cli("runbook", "show", "api-outage").stdout
    assert cli("runbook", "show", "nope", exit_code=1).stderr.startswith("error: no runbook 'nope'")


def test_a_responder_reads_and_ticks_the_checklist(cli: Cli, personas: Personas) -> None:
    ref = cli.json(
        "incident", "declare", "--severity", "P1", "--service", "api", "--title", "Checkout 500s",
        "--commander", personas.bob.email,
    )["human_id"]  # fmt: skip
    shown = cli("incident", "checklist", ref).stdout
    assert "Incident response (default): 0 of " in shown
    assert "[ ]  1. Declare the incident and set its severity" in shown
    assert cli("incident", "tick", ref, "1").stdout == (
        f"Ticked item 1 of {ref}: Declare the incident and set its severity\n"
    )
    assert "[x]  1." in cli("incident", "checklist", ref).stdout
    assert cli.json("incident", "checklist", ref)["done"] == 1
    assert cli("incident", "untick", ref, "1").stdout.startswith("Unticked item 1")
    # Post the first status update belongs to the communications lead, whom nobody is yet; bob commands.
    assert cli("incident", "tick", ref, "8").stdout.startswith("Ticked item 8")
    refused = cli("incident", "tick", ref, "5", token=personas.charlie.token, exit_code=1)
    assert "write scope" in refused.stderr
    assert "not an item number" in cli("incident", "tick", ref, "x", exit_code=2).stderr


def test_a_handoff_with_a_briefing(cli: Cli, personas: Personas) -> None:
    ref = cli.json(
        "incident", "declare", "--severity", "P1", "--title", "Checkout 500s", "--commander", "bob@example.com"
    )["human_id"]
    said = cli(
        "incident", "handoff", ref, "--role", "commander", "--to", personas.alice.email,
        "--status", "Checkout down", "--actions", "Rolled back", "--hypothesis", "DB pool",
    ).stdout  # fmt: skip
    assert said == f"Handed commander of {ref} to Alice Admin <alice@example.com> with a briefing.\n"
    [*_, entry] = cli.json("incident", "timeline", ref)
    assert entry["data"]["briefing"] == {
        "status": "Checkout down",
        "actions_taken": "Rolled back",
        "hypothesis": "DB pool",
    }
