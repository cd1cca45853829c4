"""GitHub `issues` deliveries: opened, closed and reopened issues are posts for the channels, never alerts."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.api.test_github import SECRET, count, deliver
from tests.conftest import Personas
from tests.support.protocols import load
from tocsin.clock import FrozenClock
from tocsin.integrations import github
from tocsin.integrations.errors import BadPayload
from tocsin.services import channel_posts, channels, integrations
from tocsin.services.actor import Actor
from tocsin.services.channels import RouteSpec
from tocsin.storage.models import Alert, DevEvent, Notification

OPENED = "github_issues_opened.json"  # octokit/webhooks payload-examples/api.github.com/issues/opened


@pytest.fixture
def key(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> str:
    with sessions() as db:
        created = integrations.create(
            db, Actor.system("tests"), clock.now(), service_key="api", kind="github", signing_secret=SECRET
        )
        db.commit()
        return created.key


def issue_body(action: str, **issue: Any) -> bytes:
    data = copy.deepcopy(load(OPENED))
    data["action"] = action
    data["issue"].update(issue)
    return json.dumps(data).encode()


def test_an_opened_issue_is_a_notice_naming_the_issue_its_author_and_labels() -> None:
    delivery = github.parse("issues", issue_body("opened"))
    assert delivery.notice == github.Notice(
        "dev.issue_opened",
        "Issue #1 opened by Codertocat: Spelling error in the README file",
        "Codertocat/Hello-World",
        "Codertocat",
        "https://github.com/Codertocat/Hello-World/issues/1",
        delivery.notice.occurred_at if delivery.notice else None,
        {"number": 1, "title": "Spelling error in the README file", "labels": ["bug"], "state_reason": None},
    )
    assert delivery.notice is not None
    assert delivery.notice.occurred_at is not None
    assert delivery.notice.occurred_at.isoformat() == "2019-05-15T15:20:18+00:00"


@pytest.mark.parametrize(
    ("action", "issue", "event", "words"),
    [
        ("closed", {"state": "closed", "state_reason": "completed"}, "dev.issue_closed", "closed"),
        ("closed", {"state": "closed", "state_reason": "not_planned"}, "dev.issue_closed", "closed as not planned"),
        ("reopened", {"state_reason": "reopened"}, "dev.issue_reopened", "reopened"),
    ],
)
def test_closed_and_reopened_issues_are_notices_too(action: str, issue: dict[str, Any], event: str, words: str) -> None:
    notice = github.parse("issues", issue_body(action, **issue)).notice
    assert notice is not None
    assert (notice.type, notice.summary) == (
        event,
        f"Issue #1 {words} by Codertocat: Spelling error in the README file",
    )


@pytest.mark.parametrize("action", ["labeled", "assigned", "edited", "milestoned", "pinned", "locked"])
def test_the_trackers_housekeeping_is_not_news(action: str) -> None:
    delivery = github.parse("issues", issue_body(action))
    assert delivery.known
    assert delivery.empty


def test_an_issue_without_its_number_is_refused_naming_the_field() -> None:
    data = load(OPENED)
    del data["issue"]["number"]
    with pytest.raises(BadPayload) as caught:
        github.parse("issues", json.dumps(data).encode())
    assert caught.value.field == "issue.number"


def test_issue_events_go_to_the_channels_that_route_them_and_never_become_alerts(
    client: TestClient,
    key: str,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    with sessions() as db:
        channels.create_channel(
            db, Actor.system("tests"), clock.now(), name="triage", kind="slack",
            address="https://hooks.slack.com/services/T/B/x",
            routes=[RouteSpec(["dev.issue_opened", "dev.issue_closed", "dev.issue_reopened"])],
        )  # fmt: skip
        channels.create_channel(
            db, Actor.system("tests"), clock.now(), name="prs", kind="slack",
            address="https://hooks.slack.com/services/T/B/y", routes=[RouteSpec(["dev.pull_request_opened"])],
        )  # fmt: skip
        db.commit()
    for action in ("opened", "labeled", "closed"):
        answer = deliver(client, key, "issues", issue_body(action))
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == ("ignored" if action == "labeled" else "accepted")
    # A redelivery of the same delivery id posts nothing more.
    again = issue_body("reopened")
    assert deliver(client, key, "issues", again, delivery="6d5c3a9e-0000-4000-8000-000000000001").status_code == 202
    assert deliver(client, key, "issues", again, delivery="6d5c3a9e-0000-4000-8000-000000000001").json()["status"] == (
        "duplicate"
    )
    with sessions() as db:
        cycle = channel_posts.post_due(db, clock.now(), public_url="https://tocsin.example")
        db.commit()
        names = {channel.id: channel.name for channel in channels.list_channels(db)}
        made = [
            (names[row.channel_id or 0], row.step, row.payload["title"], row.payload.get("url"))
            for row in db.scalars(select(Notification).where(Notification.kind == "post").order_by(Notification.id))
        ]
    assert cycle.posts == 3
    url = "https://github.com/Codertocat/Hello-World/issues/1"
    title = "Spelling error in the README file"
    assert made == [
        ("triage", "dev.issue_opened", f"Issue #1 opened by Codertocat: {title}", url),
        ("triage", "dev.issue_closed", f"Issue #1 closed by Codertocat: {title}", url),
        ("triage", "dev.issue_reopened", f"Issue #1 reopened by Codertocat: {title}", url),
    ]
    assert count(sessions, DevEvent) == 3
    assert count(sessions, Alert) == 0
