"""The crash pages: groups with filters, a group's stack trace and releases, resolve, ignore
and reopen from the page, and release health. Crashes arrive as Sentry events read by the
Sentry integration, so the sample is what a real SDK's event keeps."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.domain.crashes import SessionCounts
from tocsin.integrations import sentry
from tocsin.services import crashes, integrations
from tocsin.services.actor import Actor
from tocsin.services.integrations import IntegrationRef
from tocsin.storage.models import CrashGroup

SYSTEM = Actor.system("tests")


@pytest.fixture
def project(web_personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock) -> IntegrationRef:
    with sessions() as db:
        created = integrations.create(db, SYSTEM, clock.now(), service_key="api", kind="sentry")
        db.commit()
        ref = integrations.find_by_key(db, created.key)
    assert ref is not None
    return ref


def event(type_: str, value: str, release: str = "api@1.2.0", level: str = "error") -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "level": level,
        "release": release,
        "environment": "production",
        "platform": "python",
        "tags": {"region": "eu"},
        "exception": {
            "values": [
                {
                    "type": type_,
                    "value": value,
                    "stacktrace": {
                        "frames": [
                            {"filename": "app/main.py", "function": "handle", "lineno": 10, "in_app": True},
                            {
                                "filename": "app/billing.py",
                                "function": "charge",
                                "lineno": 42,
                                "in_app": True,
                                "context_line": "    return total / count",
                            },
                        ]
                    },
                }
            ]
        },
    }


def receive(sessions: sessionmaker[Session], clock: FrozenClock, ref: IntegrationRef, *events: dict[str, Any]) -> None:
    with sessions() as db:
        crashes.receive(db, clock.now(), ref, [sentry.crash_of(e, clock.now()) for e in events])
        db.commit()


def group_id(sessions: sessionmaker[Session], title_start: str) -> int:
    with sessions() as db:
        return db.scalars(select(CrashGroup.id).where(CrashGroup.title.startswith(title_start))).one()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_list_shows_groups_newest_seen_first_with_filters(
    client: TestClient, log_in: LogIn, project: IntegrationRef, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    receive(sessions, clock, project, event("ZeroDivisionError", "division by zero"))
    clock.advance(timedelta(minutes=5))
    receive(sessions, clock, project, event("KeyError", "'user'", level="warning"))
    receive(sessions, clock, project, event("KeyError", "'user'", level="warning"))
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/crashes").text)
    assert page.index("KeyError") < page.index("ZeroDivisionError")
    assert "warning 2" in page
    assert "ZeroDivisionError: division by zero api · billing.py in charge · api@1.2.0 error 1" in page

    with sessions() as db:
        crashes.ignore(db, SYSTEM, clock.now(), group_id(sessions, "KeyError"))
        db.commit()
    assert "KeyError" not in client.get("/crashes").text  # open ones by default
    assert "KeyError" in client.get("/crashes?status=ignored").text
    assert "KeyError" in client.get("/crashes?status=all").text
    assert "No crash groups in this project." in client.get(f"/crashes?status=all&project={project.id + 1}").text


def test_the_group_page_shows_the_stack_trace_innermost_first_and_releases(
    client: TestClient, log_in: LogIn, project: IntegrationRef, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    receive(sessions, clock, project, event("ZeroDivisionError", "division <by> zero", release="api@1.1.0"))
    clock.advance(timedelta(hours=1))
    receive(sessions, clock, project, event("ZeroDivisionError", "division <by> zero"))
    log_in(client, "charlie@example.com")
    html = client.get(f"/crashes/{group_id(sessions, 'ZeroDivisionError')}").text
    page = text_of(html)
    assert "ZeroDivisionError: division <by> zero" in page
    assert "<by>" not in html  # escaped
    assert page.index("charge in app/billing.py:42") < page.index("handle in app/main.py:10")
    assert "return total / count" in page
    assert "Platforms python" in page
    assert "Environments production" in page
    assert "api@1.2.0 1 2026-11-23 10:00" in page
    assert "api@1.1.0 1 2026-11-23 09:00" in page
    assert "region=eu" in page
    assert "Resolve" not in html  # Charlie only reads


def test_a_responder_resolves_ignores_and_reopens_a_group_from_the_page(
    client: TestClient, log_in: LogIn, project: IntegrationRef, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    receive(sessions, clock, project, event("ZeroDivisionError", "division by zero"))
    crash = group_id(sessions, "ZeroDivisionError")
    token = log_in(client, "bob@example.com")
    response = client.post(
        f"/crashes/{crash}/resolve", data={"csrf_token": token, "release": "api@1.2.1"}, follow_redirects=False
    )
    assert response.status_code == 303
    with sessions() as db:
        row = db.get(CrashGroup, crash)
        assert row is not None
        assert (row.status, row.resolved_in_release, row.alerting) == ("resolved", "api@1.2.1", False)
    page = text_of(client.get(f"/crashes/{crash}").text)
    assert "Resolved 2026-11-23 09:00 in api@1.2.1" in page

    client.post(f"/crashes/{crash}/ignore", data={"csrf_token": token})
    with sessions() as db:
        assert db.scalars(select(CrashGroup.status)).one() == "ignored"
    client.post(f"/crashes/{crash}/reopen", data={"csrf_token": token})
    with sessions() as db:
        assert db.scalars(select(CrashGroup.status)).one() == "open"
    # resolving without a release resolves it in the newest seen
    client.post(f"/crashes/{crash}/resolve", data={"csrf_token": token, "release": ""})
    with sessions() as db:
        assert db.scalars(select(CrashGroup.resolved_in_release)).one() == "api@1.2.0"


def test_a_viewer_cannot_resolve_a_crash(
    client: TestClient, log_in: LogIn, project: IntegrationRef, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    receive(sessions, clock, project, event("ZeroDivisionError", "division by zero"))
    crash = group_id(sessions, "ZeroDivisionError")
    token = log_in(client, "charlie@example.com")
    assert client.post(f"/crashes/{crash}/resolve", data={"csrf_token": token}).status_code == 403
    with sessions() as db:
        assert db.scalars(select(CrashGroup.status)).one() == "open"


def test_release_health_shows_crash_free_sessions_per_release(
    client: TestClient, log_in: LogIn, project: IntegrationRef, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    with sessions() as db:
        updates = [
            sentry.SessionUpdate(
                "api@1.2.0", "production", clock.now(), SessionCounts(total=200, crashed=3, errored=5)
            ),
            sentry.SessionUpdate("api@1.1.0", "production", clock.now() - timedelta(days=2), SessionCounts(total=50)),
        ]
        crashes.receive(db, clock.now(), project, [], sessions=updates)
        db.commit()
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/crashes/releases").text)
    assert "api@1.2.0 api · production 98.50 % 200 3 5" in page
    assert "api@1.1.0 api · production 100.00 % 50 0 0" in page
    assert page.index("api@1.2.0") < page.index("api@1.1.0")


def test_an_unknown_crash_group_is_a_404_page(client: TestClient, log_in: LogIn) -> None:
    log_in(client, "charlie@example.com")
    response = client.get("/crashes/999")
    assert response.status_code == 404
    assert "no crash group" in response.text
