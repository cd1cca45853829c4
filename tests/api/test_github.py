"""The GitHub webhook through the app: captured deliveries with their real signatures, redelivery,
repeated CI failures and failed deploys raising and resolving alerts, as the clock moves."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.protocols import load, raw
from tocsin.clock import FrozenClock
from tocsin.integrations.github import sign
from tocsin.services import integrations
from tocsin.services.actor import Actor
from tocsin.storage.models import Alert, Change, CiRun, DevEvent, GithubDelivery

VECTORS = load("github_signing_vectors.json")
SECRET = VECTORS["vectors"][0]["secret"]
RUN = "github_workflow_run_completed.json"
DEPLOY = "github_deployment_status.json"
MakeGithub = Callable[..., str]


@pytest.fixture
def make_github(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> MakeGithub:
    def make(secret: str | None = SECRET, **settings: object) -> str:
        with sessions() as db:
            created = integrations.create(
                db, Actor.system("tests"), clock.now(), service_key="api", kind="github", settings=settings,
                signing_secret=secret,
            )  # fmt: skip
            db.commit()
            return created.key

    return make


def deliver(
    client: TestClient,
    key: str,
    event: str,
    body: bytes,
    *,
    signature: str | None = None,
    secret: str | None = SECRET,
    delivery: str | None = None,
    content_type: str = "application/json",
) -> Any:
    headers = {
        "Content-Type": content_type,
        "User-Agent": "GitHub-Hookshot/eea6a71",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "545206700",
    }
    if signature is None and secret is not None:
        signature = sign(secret, body)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post(f"/api/v1/integrations/github/{key}", content=body, headers=headers)


def run_body(conclusion: str, run_id: int, *, workflow: str = "test", branch: str = "main") -> bytes:
    data = copy.deepcopy(load(RUN))
    data["workflow"]["name"] = workflow
    data["workflow_run"].update(conclusion=conclusion, id=run_id, head_branch=branch)
    data["workflow_run"]["html_url"] = f"https://github.com/octo-org/octo-repo/actions/runs/{run_id}"
    return json.dumps(data).encode()


def deploy_body(state: str, environment: str = "production") -> bytes:
    data = copy.deepcopy(load(DEPLOY))
    data["deployment_status"].update(state=state, environment=environment)
    data["deployment_status"]["target_url"] = "https://example.com/deploys/42"
    return json.dumps(data).encode()


def count(sessions: sessionmaker[Session], model: type[Any]) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def rows(sessions: sessionmaker[Session], model: type[Any], *where: Any) -> list[Any]:
    """Rows read in a session of their own, closed before the next request (SQLite's one writer)."""
    with sessions() as db:
        found = list(db.scalars(select(model).where(*where).order_by(model.id)))
        db.expunge_all()
        return found


def ci_alerts(sessions: sessionmaker[Session]) -> list[Alert]:
    return rows(sessions, Alert, Alert.dedup_key.like("github:ci:%"))


# ---- signatures and captured deliveries ------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda vector: vector["file"])
def test_every_captured_delivery_replays_byte_for_byte_with_its_real_signature(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], vector: dict[str, Any]
) -> None:
    key = make_github(secret=vector["secret"])
    body = raw(vector["file"])
    event = VECTORS["event_header_for_file"][vector["file"]]

    wrong = deliver(client, key, event, body, signature=sign("another secret", body))
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["field"] == "X-Hub-Signature-256"
    assert count(sessions, GithubDelivery) == 0

    answer = deliver(client, key, event, body, signature=vector["x_hub_signature_256"])
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "accepted"
    assert answer.json()["event"] == event
    assert count(sessions, GithubDelivery) == 1


def test_the_docs_vector_is_what_sign_computes() -> None:
    docs = VECTORS["docs_vector"]
    assert sign(docs["secret"], docs["payload"].encode()) == docs["expected"]


def test_each_captured_delivery_becomes_what_it_says(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session]
) -> None:
    key = make_github()
    ping = deliver(client, key, "ping", raw("github_ping.json")).json()
    assert ping["zen"] == "Anything added dilutes everything else."
    run = deliver(client, key, "workflow_run", raw(RUN)).json()
    assert (run["dev_events"], run["alerts"], run["changes"]) == (1, [], 0)
    job = deliver(client, key, "workflow_job", raw("github_workflow_job_completed_failure.json")).json()
    assert job["dev_events"] == 1
    suite = deliver(client, key, "check_suite", raw("github_check_suite_completed.json")).json()
    assert suite["dev_events"] == 1
    deploy = deliver(client, key, "deployment_status", raw(DEPLOY)).json()
    assert deploy["changes"] == 1
    types = [row.type for row in rows(sessions, DevEvent)]
    assert types == ["ci.success", "ci.job_failure", "ci.success"]
    [change] = rows(sessions, Change)
    assert (change.environment, change.status, change.version, change.author) == (
        "production", "success", "master", "Codertocat"
    )  # fmt: skip
    assert change.commit_sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert change.duration_s == 2
    assert change.details["event"] == "deploy.succeeded"


@pytest.mark.parametrize(
    ("signature", "expected"),
    [(None, "not signed"), ("sha1=abc", "sha256=<hex digest>"), ("sha256=" + "0" * 64, "does not match")],
)
def test_a_missing_or_wrong_signature_is_refused_when_the_hook_has_a_secret(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], signature: str | None, expected: str
) -> None:
    key = make_github()
    headers = {"X-GitHub-Event": "workflow_run", "X-GitHub-Delivery": str(uuid.uuid4())}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    answer = client.post(f"/api/v1/integrations/github/{key}", content=raw(RUN), headers=headers)
    assert answer.status_code == 401
    assert expected in answer.json()["detail"]
    assert answer.json()["field"] == "X-Hub-Signature-256"
    assert count(sessions, GithubDelivery) == count(sessions, DevEvent) == 0


def test_without_a_secret_unsigned_deliveries_are_accepted(client: TestClient, make_github: MakeGithub) -> None:
    key = make_github(secret=None)
    assert deliver(client, key, "workflow_run", raw(RUN), secret=None).status_code == 202


def test_an_unknown_key_is_refused(client: TestClient) -> None:
    answer = deliver(client, "0" * 32, "ping", raw("github_ping.json"))
    assert answer.status_code == 401


def test_a_redelivery_changes_nothing_and_is_still_accepted(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session]
) -> None:
    key = make_github()
    delivery = str(uuid.uuid4())
    first = deliver(client, key, "deployment_status", deploy_body("failure"), delivery=delivery)
    again = deliver(client, key, "deployment_status", deploy_body("failure"), delivery=delivery)
    assert first.json()["status"] == "accepted"
    assert [a["result"] for a in first.json()["alerts"]] == ["created"]
    assert again.status_code == 202
    assert again.json() == {**again.json(), "status": "duplicate", "alerts": [], "changes": 0}
    assert count(sessions, Change) == 1
    [alert] = rows(sessions, Alert)
    assert alert.count == 1


def test_unknown_events_and_uninteresting_actions_are_accepted_and_ignored(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session]
) -> None:
    key = make_github()
    star = deliver(client, key, "star", b'{"action": "created", "repository": {"full_name": "a/b"}}')
    assert (star.status_code, star.json()["status"]) == (202, "ignored")
    data = load(RUN)
    data["action"] = "requested"
    requested = deliver(client, key, "workflow_run", json.dumps(data).encode())
    assert requested.json()["status"] == "ignored"
    assert count(sessions, DevEvent) == count(sessions, CiRun) == 0
    assert count(sessions, GithubDelivery) == 2


@pytest.mark.parametrize(
    ("event", "body", "status", "field"),
    [
        ("workflow_run", b"", 400, None),
        ("workflow_run", b"{not json", 422, None),
        ("workflow_run", b"[1, 2]", 422, None),
        ("workflow_run", b'{"action": "completed", "repository": {"full_name": "a/b"}}', 422, "workflow_run"),
        ("deployment_status", b'{"deployment_status": {"state": "success"}, "repository": {}}', 422, None),
        ("release", b'{"action": "published", "repository": {"full_name": "a/b"}, "release": {}}', 422, None),
    ],
)
def test_malformed_deliveries_get_a_precise_problem_and_store_nothing(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], event: str, body: bytes, status: int,
    field: str | None,
) -> None:  # fmt: skip
    key = make_github()
    answer = deliver(client, key, event, body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert answer.json()["field"] == field
    assert answer.json()["errors"]
    assert count(sessions, GithubDelivery) == 0


def test_the_release_event_names_the_missing_tag(client: TestClient, make_github: MakeGithub) -> None:
    body = b'{"action": "published", "repository": {"full_name": "a/b"}, "release": {}}'
    assert deliver(client, make_github(), "release", body).json()["field"] == "release.tag_name"


def test_missing_event_or_delivery_headers_are_named(client: TestClient, make_github: MakeGithub) -> None:
    key = make_github()
    body = raw(RUN)
    headers = {"X-Hub-Signature-256": sign(SECRET, body)}
    no_event = client.post(f"/api/v1/integrations/github/{key}", content=body, headers=headers)
    assert (no_event.status_code, no_event.json()["field"]) == (400, "X-GitHub-Event")
    no_delivery = client.post(
        f"/api/v1/integrations/github/{key}", content=body, headers={**headers, "X-GitHub-Event": "workflow_run"}
    )
    assert (no_delivery.status_code, no_delivery.json()["field"]) == (400, "X-GitHub-Delivery")


def test_an_oversized_delivery_is_refused_and_stores_nothing(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session]
) -> None:
    body = b'{"zen": "' + b"x" * (64 * 1024) + b'"}'  # over the test settings' 64 KiB
    answer = deliver(client, make_github(), "ping", body)
    assert answer.status_code == 413
    assert count(sessions, GithubDelivery) == 0


def test_a_form_encoded_delivery_is_read_from_its_payload_field(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session]
) -> None:
    from urllib.parse import urlencode

    body = urlencode({"payload": raw(RUN).decode()}).encode()
    answer = deliver(client, make_github(), "workflow_run", body, content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 202, answer.text
    assert answer.json()["dev_events"] == 1


# ---- repeated CI failures ------------------------------------------------------------------


def test_two_failures_in_a_row_raise_an_alert_and_the_next_success_resolves_it(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    key = make_github()
    first = deliver(client, key, "workflow_run", run_body("failure", 1)).json()
    assert first["alerts"] == []
    clock.advance(timedelta(minutes=10))
    second = deliver(client, key, "workflow_run", run_body("failure", 2)).json()
    assert second["failing"] == "2 failures in a row"
    [alert] = ci_alerts(sessions)
    assert alert.status == "firing"
    assert alert.dedup_key == "github:ci:octo-org/octo-repo:test:main"
    assert alert.labels == {"repository": "octo-org/octo-repo", "workflow": "test", "branch": "main"}
    assert alert.links[0]["href"] == "https://github.com/octo-org/octo-repo/actions/runs/2"
    assert "CI failing: test on octo-org/octo-repo@main" in alert.summary

    clock.advance(timedelta(minutes=10))
    other_branch = deliver(client, key, "workflow_run", run_body("success", 3, branch="feature")).json()
    assert other_branch["alerts"] == []
    assert ci_alerts(sessions)[0].status == "firing"
    resolved = deliver(client, key, "workflow_run", run_body("success", 4)).json()
    assert [a["result"] for a in resolved["alerts"]] == ["resolved"]
    assert ci_alerts(sessions)[0].status == "resolved"


def test_a_success_between_failures_breaks_the_streak(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    key = make_github(failures_in_window=0)
    for run_id, conclusion in enumerate(["failure", "success", "failure", "cancelled", "success", "failure"]):
        deliver(client, key, "workflow_run", run_body(conclusion, run_id))
        clock.advance(timedelta(minutes=1))
    assert ci_alerts(sessions) == []


def test_three_failures_within_the_window_raise_but_not_three_spread_beyond_it(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    key = make_github(failures_in_a_row=0)  # only the window rule
    run = iter(range(100))

    def fail() -> Any:
        return deliver(client, key, "workflow_run", run_body("failure", next(run))).json()

    def succeed() -> Any:
        return deliver(client, key, "workflow_run", run_body("success", next(run))).json()

    fail()
    clock.advance(timedelta(minutes=31))
    succeed()
    fail()
    clock.advance(timedelta(minutes=30, seconds=1))
    succeed()
    assert fail()["alerts"] == []  # the first failure is 61 minutes old: two within the hour
    assert ci_alerts(sessions) == []

    clock.advance(timedelta(minutes=10))
    succeed()
    tipped = fail()  # the one 40 minutes ago, 10 minutes ago and now: three within the hour
    assert tipped["failing"] == "3 failures within 1h"
    assert [a["result"] for a in tipped["alerts"]] == ["created"]


def test_the_window_includes_a_failure_exactly_its_length_ago(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    key = make_github(failures_in_a_row=0, failures_in_window=2, failure_window_s=600)
    deliver(client, key, "workflow_run", run_body("failure", 1))
    clock.advance(timedelta(minutes=10))
    assert deliver(client, key, "workflow_run", run_body("failure", 2)).json()["failing"] == "2 failures within 10m"


def test_thresholds_are_per_integration(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    key = make_github(failures_in_a_row=3, failures_in_window=0)
    deliver(client, key, "workflow_run", run_body("failure", 1))
    deliver(client, key, "workflow_run", run_body("failure", 2))
    assert ci_alerts(sessions) == []
    assert deliver(client, key, "workflow_run", run_body("failure", 3)).json()["failing"] == "3 failures in a row"


def test_the_same_run_under_a_new_delivery_id_counts_once(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session]
) -> None:
    key = make_github()
    deliver(client, key, "workflow_run", run_body("failure", 7))
    assert deliver(client, key, "workflow_run", run_body("failure", 7)).json()["alerts"] == []
    assert ci_alerts(sessions) == []


def test_a_workflow_keeps_only_its_newest_runs(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    key = make_github()
    for run_id in range(12):
        deliver(client, key, "workflow_run", run_body("success", run_id))
        clock.advance(timedelta(minutes=1))
    assert count(sessions, CiRun) == 2  # the newest two, for the streak; no failures for the window


def test_bad_thresholds_are_refused_when_the_integration_is_made(client: TestClient, personas: Personas) -> None:
    for settings, field in [
        ({"failures_in_a_row": -1}, "settings.failures_in_a_row"),
        ({"failures_in_window": "3"}, "settings.failures_in_window"),
        ({"failure_window_s": 10}, "settings.failure_window_s"),
    ]:
        answer = client.post(
            "/api/v1/integrations",
            json={"service": "api", "kind": "github", "settings": settings},
            headers=personas.bob.headers,
        )
        assert (answer.status_code, answer.json()["field"]) == (422, field)
    other = client.post(
        "/api/v1/integrations",
        json={"service": "api", "kind": "native", "settings": {"failures_in_a_row": 2}},
        headers=personas.bob.headers,
    )
    assert other.status_code == 422


def test_a_new_github_integration_gets_its_payload_url(client: TestClient, personas: Personas) -> None:
    answer = client.post(
        "/api/v1/integrations",
        json={"service": "api", "kind": "github", "signing_secret": SECRET},
        headers=personas.bob.headers,
    ).json()
    assert next(iter(answer["urls"])) == "github"
    assert answer["urls"]["github"].endswith(f"/api/v1/integrations/github/{answer['key']}")
    assert answer["signed"] is True


# ---- failed deploys ----------------------------------------------------------------------------


def test_a_failed_deploy_raises_at_once_and_the_next_success_to_that_environment_resolves_it(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas
) -> None:
    key = make_github()
    failed = deliver(client, key, "deployment_status", deploy_body("error")).json()
    [outcome] = failed["alerts"]
    assert outcome["result"] == "created"
    assert outcome["incident"] is not None
    [alert] = rows(sessions, Alert)
    assert alert.dedup_key == "github:deploy:Codertocat/Hello-World:production"
    assert alert.labels == {"repository": "Codertocat/Hello-World", "environment": "production"}
    assert alert.links[0]["href"] == "https://example.com/deploys/42"

    clock.advance(timedelta(minutes=5))
    pending = deliver(client, key, "deployment_status", deploy_body("in_progress")).json()
    assert (pending["status"], pending["changes"]) == ("ignored", 0)
    staging = deliver(client, key, "deployment_status", deploy_body("success", "staging")).json()
    assert [a["result"] for a in staging["alerts"]] == ["ignored"]
    fixed = deliver(client, key, "deployment_status", deploy_body("success")).json()
    assert [a["result"] for a in fixed["alerts"]] == ["resolved"]
    assert [alert.status for alert in rows(sessions, Alert)] == ["resolved"]
    statuses = [(c.environment, c.status) for c in rows(sessions, Change)]
    assert statuses == [("production", "failure"), ("staging", "success"), ("production", "success")]


# ---- development events to the channels ---------------------------------------------------------

# Not captured: the fields these events carry per the octokit/webhooks schemas.
REPO = {"full_name": "octo-org/octo-repo", "html_url": "https://github.com/octo-org/octo-repo"}
PULL_REQUEST = {
    "action": "opened",
    "number": 17,
    "pull_request": {
        "number": 17, "title": "Retry the payment provider\nwith backoff", "merged": False,
        "html_url": "https://github.com/octo-org/octo-repo/pull/17", "user": {"login": "dana"},
        "base": {"ref": "main"}, "head": {"ref": "retry"}, "updated_at": "2026-11-23T08:59:00Z",
    },
    "repository": REPO,
    "sender": {"login": "dana"},
}  # fmt: skip
PUSH = {
    "ref": "refs/heads/main", "after": "3484a3fb816e0859fd6e1cea078d76385ff50625",
    "compare": "https://github.com/octo-org/octo-repo/compare/1234567...3484a3f",
    "commits": [{"id": "a", "message": "one"}, {"id": "b", "message": "two"}],
    "head_commit": {"id": "b", "message": "Bump the client\n\nlong text", "timestamp": "2026-11-23T08:58:00Z"},
    "pusher": {"name": "erin"}, "repository": REPO, "sender": {"login": "erin"},
}  # fmt: skip
RELEASE = {
    "action": "published",
    "release": {
        "tag_name": "v1.5.0", "name": "Spring", "html_url": "https://github.com/octo-org/octo-repo/releases/v1.5.0",
        "target_commitish": "main", "published_at": "2026-11-23T08:57:00Z", "author": {"login": "dana"},
    },
    "repository": REPO,
}  # fmt: skip


def test_dev_events_go_to_the_dev_events_channel_as_posts_and_never_become_alerts(
    client: TestClient, make_github: MakeGithub, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    from tocsin.services import channel_posts, channels
    from tocsin.services.channels import RouteSpec
    from tocsin.storage.models import Notification

    with sessions() as db:
        channels.create_channel(
            db, Actor.system("tests"), clock.now(), name="dev-events", kind="slack",
            address="https://hooks.slack.com/services/T/B/x",
            routes=[RouteSpec(["ci.*", "dev.*", "release.*", "deploy.failed"])],
        )  # fmt: skip
        channels.create_channel(
            db, Actor.system("tests"), clock.now(), name="deploys", kind="slack",
            address="https://hooks.slack.com/services/T/B/y", routes=[RouteSpec(["deploy.*"])],
        )  # fmt: skip
        db.commit()
    key = make_github()
    for event, body in [
        ("pull_request", json.dumps(PULL_REQUEST).encode()),
        ("push", json.dumps(PUSH).encode()),
        ("workflow_run", run_body("failure", 1)),
        ("release", json.dumps(RELEASE).encode()),
        ("deployment_status", deploy_body("success")),
        ("pull_request", json.dumps({**PULL_REQUEST, "action": "labeled"}).encode()),
    ]:
        assert deliver(client, key, event, body).status_code == 202
    with sessions() as db:
        cycle = channel_posts.post_due(db, clock.now(), public_url="https://tocsin.example")
        db.commit()
        names = {channel.id: channel.name for channel in channels.list_channels(db)}
        made = [
            (names[row.channel_id or 0], row.step, row.payload["title"], row.payload.get("url"))
            for row in db.scalars(select(Notification).where(Notification.kind == "post").order_by(Notification.id))
        ]
    assert cycle.posts == 5  # the labelled pull request is not news
    pr_url = "https://github.com/octo-org/octo-repo/pull/17"
    compare = PUSH["compare"]
    assert sorted(made) == sorted([
        ("dev-events", "dev.pull_request_opened", "Pull request #17 opened by dana: Retry the payment provider",
         pr_url),
        ("dev-events", "dev.push", "erin pushed 2 commits to octo-org/octo-repo@main: Bump the client", compare),
        ("dev-events", "ci.failure", "Failed: test on octo-org/octo-repo@main: ci(action): update actions/setup-node "
         "digest to 8c91899", "https://github.com/octo-org/octo-repo/actions/runs/1"),
        ("dev-events", "release.published", "Release Spring (v1.5.0) of octo-org/octo-repo",
         "https://github.com/octo-org/octo-repo/releases/v1.5.0"),
        ("deploys", "deploy.succeeded", "Deploy of Codertocat/Hello-World@master (f95f852) to production succeeded",
         "https://example.com/deploys/42"),
    ])  # fmt: skip
    assert count(sessions, Alert) == 0  # one CI failure, a good deploy: news, not alerts
