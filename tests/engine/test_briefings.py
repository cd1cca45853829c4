"""A hand-off briefing reaches the new role holder: the deliveries module sends the
`briefing` rows to a fake Discord webhook, as it sends pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.engine.test_deliveries import deliveries, runner
from tests.support.fake_http import FakeHTTPServer
from tocsin.clock import FrozenClock
from tocsin.domain.briefings import Briefing
from tocsin.services import incidents
from tocsin.storage import models


@pytest.fixture
def discord() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


def test_the_new_commander_is_sent_the_briefing(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    with sessions() as db:
        # Made as rows: the service wants https, and the fake far end speaks http (as in test_deliveries).
        alice = personas.alice.actor.user_id
        assert alice is not None
        method = models.ContactMethod(
            user_id=alice, name="chat", kind="discord", address=f"{discord.url}/api/webhooks/1/alice",
            verified=True, created_at=clock.now(),
        )  # fmt: skip
        db.add(method)
        db.flush()
        db.add(models.NotificationRule(user_id=alice, contact_method_id=method.id, delay_s=0))
        incident = incidents.declare(
            db, personas.bob.actor, clock.now(), title="Checkout 500s", severity="P1", commander=personas.bob.email
        )
        briefing = Briefing(status="EU checkout failing", actions_taken="Rolled back 1.4.2", hypothesis="DB pool")
        incidents.assign_role(
            db, personas.bob.actor, clock.now(), incident, "commander", personas.alice.email, briefing
        )
        ref = incident.human_id
        db.commit()

    assert runner(sessions, clock, deliveries()).cycle() == {"deliveries": 1}
    [request] = discord.requests
    assert request.route == "/api/webhooks/1/alice"
    sent = str(request.json())
    assert f"{ref}: you are now Incident commander" in sent
    for text in ("EU checkout failing", "Rolled back 1.4.2", "DB pool"):
        assert text in sent
