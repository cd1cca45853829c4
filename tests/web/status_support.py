"""Shared set-up for the status page's tests: a page with two components in a group and one
alone, a cache that looks at the database on every request, and helpers that act as responders."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.timeline import EntryKind
from tocsin.services import incidents, status_page, timeline
from tocsin.services.actor import Actor
from tocsin.services.status_page import ComponentSpec
from tocsin.storage import models
from tocsin.web.status_cache import StatusCache

SYSTEM = Actor.system("tests")


@pytest.fixture
def page(personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock) -> Personas:
    """Group "Platform" holds API (service api) and Website (service web); Docs stands alone."""
    with sessions() as db:
        status_page.configure(db, SYSTEM, clock.now(), name="Acme", description="Acme's services")
        status_page.save_group(db, SYSTEM, clock.now(), key="platform", name="Platform", position=1)
        status_page.create_component(
            db, SYSTEM, clock.now(), "api", ComponentSpec("API", "The public API", "platform", 1, ["api"])
        )
        status_page.create_component(
            db, SYSTEM, clock.now(), "website", ComponentSpec("Website", "", "platform", 2, ["web"])
        )
        status_page.create_component(db, SYSTEM, clock.now(), "docs", ComponentSpec("Docs", position=0))
        db.commit()
    return personas


@pytest.fixture
def live(client: TestClient, sessions: sessionmaker[Session], clock: FrozenClock) -> TestClient:
    """The client, its status cache reading the stamp on every request (tests change the
    database between requests, within the second a real cache would wait)."""
    client.app.state.status_cache = StatusCache(sessions, clock, check_every=0)  # type: ignore[attr-defined]
    return client


def declare(
    sessions: sessionmaker[Session],
    actor: Actor,
    now: datetime,
    title: str,
    severity: str = "P1",
    services: tuple[str, ...] = ("api",),
    *,
    drill: bool = False,
) -> int:
    with sessions() as db:
        incident = incidents.declare(db, actor, now, title=title, severity=severity, services=services, drill=drill)
        db.commit()
        return incident.id


def update(
    sessions: sessionmaker[Session], actor: Actor, now: datetime, incident_id: int, text: str, *, public: bool
) -> None:
    with sessions() as db:
        incident = db.get(models.Incident, incident_id)
        assert incident is not None
        if incident.drill and public:
            # Refused since drills never reach customers (409); written as an older server did,
            # so the page and its notices are shown to keep a drill out on their own as well.
            timeline.add(db, incident, actor, now, EntryKind.UPDATE, text, {"public": True})
        else:
            incidents.post_update(db, actor, now, incident, text, public=public)
        db.commit()


def move(sessions: sessionmaker[Session], actor: Actor, now: datetime, incident_id: int, status: str) -> None:
    with sessions() as db:
        incident = db.get(models.Incident, incident_id)
        assert incident is not None
        incidents.change_status(db, actor, now, incident, status)
        db.commit()
