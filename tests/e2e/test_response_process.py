"""Issue 7's story from the terminal, against a real `tocsin serve` whose clock the test moves:
a declared P1 gets its checklist, its commander is reminded when the 30-minute update is overdue,
the customer notice is written from the template, resolving drafts a postmortem whose timeline
matches the incident's, an action item gets its due date and its reminder, and `tocsin report`
and `tocsin audit` print figures computed from all that."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.fake_http import FakeHTTPServer
from tests.support.server import ServerProcess
from tocsin.clock import FrozenClock
from tocsin.services import contacts
from tocsin.services.actor import Actor

pytestmark = pytest.mark.slow
SYSTEM = Actor.system("tests")


def reachable(sessions: sessionmaker[Session], clock: FrozenClock, email: str, url: str) -> None:
    with sessions() as db:
        now = clock.now()
        contacts.add_contact_method(
            db, SYSTEM, now, email, name="hook", kind="webhook", address=url, verified=True, high_urgency=True
        )
        contacts.add_rule(db, SYSTEM, now, email, contact_method="hook", delay_s=0)
        db.commit()


def test_a_p1_from_declaration_to_postmortem_action_items_and_report(
    server: ServerProcess, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock, tmp_path: Path
) -> None:
    with FakeHTTPServer() as phones:
        reachable(sessions, clock, "alice@example.com", f"{phones.url}/alice")
        cli = Cli(server.url, personas.bob.token, tmp_path / "config", server.clock_file)

        declared = cli.json(
            "incident", "declare", "--title", "Checkout returns 500s", "--severity", "P1",
            "--service", "api", "--impact", "A third of checkouts fail.", "--commander", "alice@example.com",
        )  # fmt: skip
        ref = declared["human_id"]

        # The checklist of the shipped runbook, by phase.
        checklist = cli.json("incident", "checklist", ref)
        phases = [phase["name"] for phase in checklist["phases"]]
        assert len(phases) >= 3
        assert all(phase["items"] for phase in checklist["phases"])

        # 29 minutes: nothing owed yet. 30: Alice, the commander, is reminded on her phone.
        server.advance(timedelta(minutes=29))
        cli("incident", "ack", ref)
        assert phones.requests == []
        server.advance(timedelta(minutes=1))
        [reminder] = phones.wait_for_requests(1, timeout=15)
        assert reminder.route == "/alice"
        assert "Update overdue" in reminder.body.decode()
        assert ref in reminder.body.decode()

        # The customer notice, written from the template and posted publicly.
        preview = cli("template", "preview", "customer_notice", "--incident", ref).stdout
        assert "affecting Public API" in preview
        assert "A third of checkouts fail." in preview
        cli("incident", "update", ref, "--template", "customer_notice", "--public")
        updates = [e for e in cli.json("incident", "timeline", ref) if e["kind"] == "update"]
        assert len(updates) == 1
        assert updates[0]["data"]["public"] is True
        assert updates[0]["summary"].startswith("We are investigating an issue affecting Public API.")

        server.advance(timedelta(minutes=10))
        cli("incident", "status", ref, "monitoring", "-m", "rolled back 4f2a")
        server.advance(timedelta(hours=1))
        # The monitoring window (1 h for a P1) passed with no new alert: Alice may resolve it.
        # (Updates stay owed every 30 minutes while it is watched: Alice has been reminded again.)
        assert phones.wait_for_body(f"Ready to resolve: {ref}", timeout=15).route == "/alice"
        cli("incident", "resolve", ref, "-m", "error rate normal for an hour")

        # The postmortem draft: due two days after resolution, its timeline the incident's.
        postmortem = cli.json("postmortem", "show", ref)
        assert postmortem["status"] == "draft"
        body = postmortem["body"]
        timeline = [e for e in cli.json("incident", "timeline", ref) if e["kind"] != "alert"]
        for entry in timeline:
            if entry["kind"] in ("declared", "status", "role", "update"):
                assert entry["summary"].splitlines()[0][:60] in body, entry["summary"]

        # An action item: a P1 is due in a week; its owner hears a day before.
        item = cli.json(
            "action-item", "add", ref, "--title", "Alert on checkout 5xx rate", "--priority", "P1",
            "--owner", "alice@example.com",
        )  # fmt: skip
        assert item["due_at"].startswith((server.now + timedelta(days=7)).date().isoformat())
        server.advance(timedelta(days=6, minutes=1))
        assert phones.wait_for_body("Alert on checkout 5xx rate", timeout=15).route == "/alice"

        # The report counts this incident: acknowledged after 29 minutes, resolved after 100.
        report = cli.json("report", "--since", "30d")
        assert report["overall"]["incidents"] == 1
        assert report["overall"]["acknowledge"]["median_s"] == 29 * 60
        assert report["overall"]["resolve"]["median_s"] == 100 * 60

        # The audit: no runbook of the team's own, and the postmortem (due 2 days after) still a draft.
        audit = cli.json("audit")
        scores = {component["key"]: component["score"] for component in audit["components"]}
        assert scores["runbooks"] == 0
        assert scores["postmortems_on_time"] == 0
        assert scores["action_items_closed"] is None  # none fell due yet: not counted
        assert audit["total"] == 0  # a bare setup: no policy, schedule, check or integration
        assert audit["next_steps"][0]["component"] == "escalation_policies"
        assert "pipeline 0% complete" in cli("audit").stdout
