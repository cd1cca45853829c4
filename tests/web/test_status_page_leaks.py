"""Nothing internal leaks onto the public status page, its JSON or its feeds: internal notes,
private updates, alert labels and payloads, the names of the people responding, and drills."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.web.status_support import declare, live, move, page, update
from tocsin.clock import FrozenClock
from tocsin.domain.timeline import EntryKind
from tocsin.services import incidents, timeline
from tocsin.storage import models

__all__ = ["live", "page"]  # fixtures

PUBLIC_URLS = (
    "/status",
    "/status/history",
    "/status/feed.rss",
    "/status/feed.atom",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
)
SECRETS = (
    "NOTE-db-password-hunter2",
    "PRIVATE-suspect-payment-provider",
    "LABEL-instance-10.9.8.7",
    "PAYLOAD-stacktrace-secret",
    "Bob Responder",
    "Alice Admin",
    "bob@example.com",
    "DRILL-gameday-practice",
    "DRILL-public-words",
    "IMPACT-internal-estimate",
)


def test_only_public_updates_reach_any_public_output(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    bob, alice = page.bob.actor, page.alice.actor
    real = declare(sessions, bob, clock.now(), "Payments failing", "P1", ("api",))
    with sessions() as db:
        incident = db.get(models.Incident, real)
        assert incident is not None
        incidents.edit(db, bob, clock.now(), incident, impact="IMPACT-internal-estimate")
        incidents.add_note(db, bob, clock.now(), incident, "NOTE-db-password-hunter2")
        timeline.add(
            db, incident, bob, clock.now(), EntryKind.ALERT, "Alert attached: LABEL-instance-10.9.8.7",
            {"labels": {"instance": "LABEL-instance-10.9.8.7"}, "payload": "PAYLOAD-stacktrace-secret"},
        )  # fmt: skip
        incidents.assign_role(db, alice, clock.now(), incident, "commander", "bob@example.com")
        db.commit()
    update(sessions, bob, clock.now(), real, "PRIVATE-suspect-payment-provider", public=False)
    clock.advance(timedelta(minutes=2))
    update(sessions, bob, clock.now(), real, "Some payments fail; we are on it.", public=True)
    move(sessions, bob, clock.now(), real, "monitoring")

    drill = declare(sessions, alice, clock.now(), "DRILL-gameday-practice", "P0", ("api", "web"), drill=True)
    update(sessions, alice, clock.now(), drill, "DRILL-public-words", public=True)

    answers = {url: live.get(url) for url in PUBLIC_URLS}
    answers[f"/status/incidents/{real}"] = live.get(f"/status/incidents/{real}")
    for url, answer in answers.items():
        assert answer.status_code == 200, url
        for secret in SECRETS:
            assert secret not in answer.text, (url, secret)
    # The public update is there, so the test looks where the secrets would be.
    assert "Some payments fail; we are on it." in answers["/status"].text
    assert "Some payments fail; we are on it." in answers["/api/v2/incidents.json"].text
    assert "Some payments fail; we are on it." in answers["/status/feed.atom"].text
    # A drill has no page of its own either, and does not move any component.
    assert live.get(f"/status/incidents/{drill}").status_code == 404
    summary = answers["/api/v2/summary.json"].json()
    assert {c["name"]: c["status"] for c in summary["components"]}["Website"] == "operational"


def test_an_incident_with_only_private_updates_is_not_listed_anywhere(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    hidden = declare(sessions, page.bob.actor, clock.now(), "HIDDEN-internal-title", "P2", ("web",))
    update(sessions, page.bob.actor, clock.now(), hidden, "PRIVATE-only", public=False)
    move(sessions, page.bob.actor, clock.now(), hidden, "resolved")
    for url in PUBLIC_URLS:
        text = live.get(url).text
        assert "HIDDEN-internal-title" not in text, url
        assert "PRIVATE-only" not in text, url
    assert live.get(f"/status/incidents/{hidden}").status_code == 404
