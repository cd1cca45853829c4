"""`tocsin postmortem` and `tocsin action-item`, against the app on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.inprocess import cli_for
from tocsin.clock import FrozenClock
from tocsin.services import incidents


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


@pytest.fixture
def ref(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> str:
    with sessions() as db:
        incident = incidents.declare(db, personas.bob.actor, clock.now(), title="Checkout 500s", severity="P1")
        clock.advance(timedelta(minutes=30))
        incidents.change_status(db, personas.bob.actor, clock.now(), incident, "resolved", "Rolled back")
        db.commit()
        return incident.human_id


def test_a_postmortem_from_draft_to_published_and_exported(
    cli: Cli, ref: str, personas: Personas, tmp_path: Path
) -> None:
    [listed] = cli.json("postmortem", "list")["items"]
    assert (listed["incident"], listed["status"]) == (ref, "draft")
    assert ref in cli("postmortem", "list").stdout
    shown = cli("postmortem", "show", ref).stdout
    assert "Postmortem: Checkout 500s" in shown
    assert "Rolled back" in shown

    edited = tmp_path / "pm.md"
    edited.write_text("# Checkout 500s\n\n## Summary\n\nA bad deploy; rolled back in 30 min.\n")
    assert cli("postmortem", "edit", ref, "--file", str(edited)).stdout.startswith(f"Saved the postmortem of {ref}")
    review = cli("postmortem", "review", ref, "--reviewer", personas.alice.email).stdout
    assert review == f"The postmortem of {ref} is in review; reviewers: {personas.alice.email}\n"
    assert cli("postmortem", "review", ref, "--approve", token=personas.alice.token).stdout.startswith("Approved")
    published = cli("postmortem", "publish", ref, "--status-page").stdout
    assert published == f"Published the postmortem of {ref} and posted its summary to the status page\n"

    reports = tmp_path / "reports" / "incidents"
    assert cli("postmortem", "export", ref, "--dir", str(reports)).stdout == (
        f"Wrote {reports / '2026-11-23-checkout-500s.md'}\n"
    )
    text = (reports / "2026-11-23-checkout-500s.md").read_text()
    assert text.startswith("# Checkout 500s\n\n## Summary\n\nA bad deploy; rolled back in 30 min.\n")
    assert "## Action items" in text


def test_refusals_are_one_line_on_stderr(cli: Cli, ref: str, personas: Personas, tmp_path: Path) -> None:
    broken = tmp_path / "t.md"
    broken.write_text("{% for x in timeline %}\n")
    refused = cli("postmortem", "template", "set", "--file", str(broken), token=personas.alice.token, exit_code=1)
    assert refused.stderr.startswith("error: ")
    assert "line" in refused.stderr
    assert cli("postmortem", "publish", ref, exit_code=1).stderr.startswith("error: ")
    assert cli("postmortem", "template", "show").stdout.startswith("# Postmortem: {{ title }}")


def test_action_items_listed_overdue_and_done(cli: Cli, ref: str, personas: Personas, clock: FrozenClock) -> None:
    added = cli("action-item", "add", ref, "--title", "Alert on 5xx", "--priority", "P0", "--owner", personas.bob.email)
    assert added.stdout.startswith("Added action item #1 (P0), due ")
    cli("action-item", "add", ref, "--title", "Tidy the runbook", "--priority", "P3", "--due", "2027-01-15")
    [first, second] = cli.json("action-item", "list")["items"]
    assert (first["due_at"], second["due_at"]) == ("2026-11-25T09:30:00Z", "2027-01-15T00:00:00Z")

    clock.advance(timedelta(days=3))
    cli.clock_file.write_text(clock.now().isoformat())  # type: ignore[union-attr]
    [overdue] = cli.json("action-item", "list", "--overdue")["items"]
    assert overdue["id"] == 1
    assert "(overdue)" in cli("action-item", "list").stdout
    assert cli("action-item", "done", "1").stdout == "Finished action item #1: Alert on 5xx (done)\n"
    assert cli.json("action-item", "list", "--overdue")["items"] == []
    bad = cli("action-item", "add", ref, "--title", "x", "--priority", "P5", exit_code=1)
    assert "priority" in bad.stderr
