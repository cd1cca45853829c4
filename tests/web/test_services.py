"""The service pages: the list with team, open incidents, policy and integrations; one service's page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.web_pages import declare, text_of
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.domain import heartbeats as heartbeat_domain
from tocsin.services import checks, directory, heartbeats, incidents, integrations, policies
from tocsin.services.actor import Actor
from tocsin.services.policies import LevelSpec, TargetSpec
from tocsin.storage.models import Check

SYSTEM = Actor.system("tests")


@pytest.fixture
def watched(sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas) -> None:
    """api: a policy paging Bob, two integrations, a down check, a heartbeat, an open and a resolved incident."""
    with sessions() as db:
        policies.create_policy(
            db,
            SYSTEM,
            clock.now(),
            key="api-oncall",
            name="API on call",
            levels=[LevelSpec(delay_s=0, targets=[TargetSpec("user", "bob@example.com")])],
        )
        policies.set_service_policy(db, SYSTEM, clock.now(), "api", "api-oncall")
        integrations.create(db, SYSTEM, clock.now(), service_key="api", kind="alertmanager", name="prometheus")
        integrations.create(db, SYSTEM, clock.now(), service_key="api", kind="native", name="deploy-bot")
        checks.create(
            db,
            SYSTEM,
            clock.now(),
            service_key="api",
            name="api-health",
            definition=checks.Definition(kind="http", spec={"url": "https://api.example.com/health"}),
        )
        heartbeats.create(
            db,
            SYSTEM,
            clock.now(),
            service_key="api",
            name="nightly-backup",
            schedule=heartbeat_domain.Schedule(grace=timedelta(minutes=10), period=timedelta(days=1)),
        )
        db.commit()
    with sessions() as db:
        check = db.scalar(select(Check).where(Check.name == "api-health"))
        assert check is not None
        check.status, check.last_reason = "down", "HTTP 503"
        db.commit()
    declare(sessions, clock.now(), "Old outage", "P1", services=["api"])
    with sessions() as db:
        incidents.change_status(db, SYSTEM, clock.now(), incidents.get(db, "INC-2026-11-23-001"), "resolved")
        db.commit()
    clock.advance(timedelta(hours=1))
    declare(sessions, clock.now(), "Errors on checkout", "P0", services=["api", "web"])
    clock.advance(timedelta(minutes=30))


def test_the_list_shows_each_service_with_its_team_incidents_policy_and_integrations(
    client: TestClient, log_in: LogIn, watched: None
) -> None:
    log_in(client, "charlie@example.com")
    html = client.get("/services").text
    page = text_of(html)
    assert "1 to 2 of 2" in page
    # Besides its two, api has the internal integrations its check and heartbeat raise alerts through.
    assert "Public API api Platform 1 API on call 4" in page
    assert "Web app web Platform 1 none 0" in page
    assert 'href="/incidents?status=open&amp;service=api"' in html
    assert 'href="/policies/api-oncall"' in html


def test_archived_services_are_left_out(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas
) -> None:
    with sessions() as db:
        directory.create_service(db, SYSTEM, clock.now(), key="legacy", name="Legacy thing")
        directory.get_service(db, "legacy").archived_at = clock.now()  # as `tocsin apply` archives one
        db.commit()
    log_in(client, "charlie@example.com")
    assert "Legacy thing" not in client.get("/services").text


def test_a_service_page_shows_its_incidents_checks_heartbeats_and_integrations(
    client: TestClient, log_in: LogIn, watched: None
) -> None:
    log_in(client, "charlie@example.com")
    html = client.get("/services/api").text
    page = text_of(html)
    assert "Public API" in page
    assert "Team Platform Alerts firing · all Escalation policy API on call" in page
    assert "Open incidents (1) Errors on checkout P0 triggered INC-2026-11-23-002 · open for 30m" in page
    assert "Recent incidents Old outage P1 resolved INC-2026-11-23-001" in page
    assert "api-health down http · HTTP 503" in page
    assert "nightly-backup new" in page
    assert "prometheus alertmanager alerts" in page
    assert "deploy-bot native" in page
    assert "/incidents/new?service=api" not in html  # a viewer declares nothing


def test_a_responder_declares_from_a_service_with_it_chosen(client: TestClient, log_in: LogIn, watched: None) -> None:
    log_in(client, "bob@example.com")
    assert 'href="/incidents/new?service=web"' in client.get("/services/web").text
    form = client.get("/incidents/new", params={"service": "web"}).text
    assert '<option value="web" selected>Web app (web)</option>' in form
    assert '<option value="api">Public API (api)</option>' in form


def test_an_unknown_service_is_a_404_page(client: TestClient, log_in: LogIn, web_personas: Personas) -> None:
    log_in(client, "charlie@example.com")
    response = client.get("/services/nope")
    assert response.status_code == 404
    assert "no service 'nope'" in text_of(response.text)


def test_the_service_pages_need_a_session(client: TestClient) -> None:
    assert client.get("/services", follow_redirects=False).status_code == 303
    assert client.get("/services/api", follow_redirects=False).status_code == 303
