"""`tocsin drill start` against a real `tocsin serve`: the engine pages the on-call person's
webhook with the drill, the response is measured, and the public status page shows nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.fake_http import FakeHTTPServer
from tests.support.server import ServerProcess
from tocsin.clock import FrozenClock
from tocsin.services import contacts, policies, status_page
from tocsin.services.actor import Actor
from tocsin.services.policies import LevelSpec, TargetSpec
from tocsin.services.status_page import ComponentSpec

pytestmark = pytest.mark.slow
SYSTEM = Actor.system("tests")


def test_a_drill_started_from_the_terminal_pages_the_on_call_person_and_stays_off_the_status_page(
    server: ServerProcess, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock, tmp_path: Path
) -> None:
    with FakeHTTPServer() as receiver:
        with sessions() as db:
            now = clock.now()
            contacts.add_contact_method(
                db, SYSTEM, now, "bob@example.com", name="hook", kind="webhook",
                address=f"{receiver.url}/bob", verified=True, high_urgency=True,
            )  # fmt: skip
            contacts.add_rule(db, SYSTEM, now, "bob@example.com", contact_method="hook", delay_s=0)
            policies.create_policy(
                db, SYSTEM, now, key="api-ladder", levels=[LevelSpec(600, [TargetSpec("user", "bob@example.com")])]
            )
            policies.set_service_policy(db, SYSTEM, now, "api", "api-ladder")
            status_page.configure(db, SYSTEM, now, name="Acme", description="")
            status_page.create_component(db, SYSTEM, now, "api", ComponentSpec("API", "", None, 1, ["api"]))
            db.commit()
        cli = Cli(server.url, personas.bob.token, tmp_path / "config", server.clock_file)

        started = cli.json("drill", "start", "database-outage")
        assert (started["service"], started["state"]) == ("api", "running")
        [page] = receiver.wait_for_requests(1, timeout=15)
        assert (page.method, page.route) == ("POST", "/bob")
        assert "DRILL: PostgreSQL primary for api is down" in page.body.decode()

        server.advance(timedelta(minutes=6))
        cli("incident", "ack", started["incident"])
        server.advance(timedelta(minutes=2))
        cli("incident", "assign", started["incident"], "--role", "commander", "--user", "bob@example.com")
        report = cli.json("drill", "show", str(started["id"]))["report"]
        took = {m["milestone"]: (m["took_s"], m["verdict"]) for m in report["measures"]}
        assert took["acknowledge"] == (360, "met")
        assert took["commander"] == (480, "met")
        assert took["first update"] == (None, "pending")

        for url in ("/status", "/api/v2/summary.json", "/api/v2/incidents.json"):
            answer = httpx.get(f"{server.url}{url}", timeout=10)
            assert answer.status_code == 200, url
            assert "DRILL" not in answer.text
            assert "PostgreSQL" not in answer.text
        assert "stopped" in cli("drill", "stop", str(started["id"])).stdout
        assert cli.json("drill", "list")[0]["state"] == "canceled"
