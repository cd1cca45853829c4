"""Settings → integrations and channels: the URLs to paste shown once with their key, the
lists that never show a key or a whole webhook address, and the test post."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.services import channels
from tocsin.services.actor import Actor
from tocsin.services.integrations import hash_key
from tocsin.storage.models import Alert, AuditEvent, Integration, Notification

DISCORD = "https://discord.com/api/webhooks/1001/discord-secret-token"
HOOK = "https://hooks.example.net/tocsin/very-secret-path"
HOOK_SECRET = "webhook-signing-secret-42"


def created_key(html: str) -> str:
    found = re.search(r'<code class="secret" id="integration-key">([0-9a-f]{32})</code>', html)
    assert found is not None, html
    return found.group(1)


# ---- integrations ------------------------------------------------------------------------


def test_an_admin_creates_an_integration_and_sees_its_urls_once_with_the_key(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    csrf = log_in(client, "alice@example.com")
    form = client.get("/settings/integrations/new?service=api")
    assert '<option value="api" selected>' in form.text

    created = client.post(
        "/settings/integrations", data={"csrf_token": csrf, "service": "api", "kind": "alertmanager", "name": "prom"}
    )
    assert created.status_code == 201
    key = created_key(created.text)
    assert "shown only now" in created.text
    # The tool's own URL first, then the others, each with the key; on the public URL.
    first = re.search(r"<h2>Paste into ([^<]+)</h2>\s*<p><code[^>]*>([^<]+)</code>", created.text)
    assert first is not None
    assert first.group(1) == "Prometheus Alertmanager (webhook_configs url)"
    assert first.group(2) == f"http://127.0.0.1:8080/api/v1/integrations/alertmanager/{key}"
    for url in (f"/api/v1/events/{key}", f"/api/v1/integrations/grafana/{key}", f"routing_key: {key}"):
        assert url in created.text
    with sessions() as db:
        row = db.scalar(select(Integration).where(Integration.name == "prom"))
        assert row is not None
        assert row.key_hash == hash_key(key)
        assert db.scalar(select(AuditEvent).where(AuditEvent.object_key == "prom", AuditEvent.action == "create"))

    listed = client.get("/settings/integrations")
    assert "prom" in listed.text
    assert key not in listed.text
    assert f"{key[:8]}…" in listed.text  # admins recognise it by its prefix


def test_the_pasted_url_brings_alerts_in(client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]) -> None:
    csrf = log_in(client, "alice@example.com")
    created = client.post("/settings/integrations", data={"csrf_token": csrf, "service": "web", "kind": "native"})
    url = re.search(r"<h2>Paste into [^<]+</h2>\s*<p><code[^>]*>([^<]+)</code>", created.text)
    assert url is not None
    path = httpx.URL(url.group(1)).path
    sent = client.post(path, json={"action": "trigger", "summary": "Checkout down", "dedup_key": "checkout"})
    assert sent.status_code == 202, sent.text
    with sessions() as db:
        assert db.scalar(select(Alert.summary).where(Alert.dedup_key == "checkout")) == "Checkout down"


def test_a_sentry_integration_shows_its_dsn_and_a_github_one_its_webhook_and_that_a_secret_is_set(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    csrf = log_in(client, "alice@example.com")
    sentry = client.post("/settings/integrations", data={"csrf_token": csrf, "service": "web", "kind": "sentry"})
    key = created_key(sentry.text)
    with sessions() as db:
        project = db.scalar(select(Integration.id).where(Integration.kind == "sentry"))
    assert "<h2>Paste into Sentry SDKs (the DSN: Sentry.init(dsn=...))</h2>" in sentry.text
    assert f"http://{key}@127.0.0.1:8080/{project}" in sentry.text

    github = client.post(
        "/settings/integrations",
        data={"csrf_token": csrf, "service": "api", "kind": "github", "signing_secret": "gh-webhook-secret"},
    )
    key = created_key(github.text)
    assert f"/api/v1/integrations/github/{key}" in github.text
    assert "A webhook secret is set" in github.text
    assert "gh-webhook-secret" not in github.text
    listed = client.get("/settings/integrations?service=api")
    assert re.search(r"<td>github</td>.*?<td class=\"optional\">set</td>", listed.text, re.S)
    assert "gh-webhook-secret" not in listed.text
    assert "sentry" not in listed.text  # filtered to the api service


def test_a_generic_integration_needs_its_summary_path(client: TestClient, log_in: LogIn) -> None:
    csrf = log_in(client, "alice@example.com")
    refused = client.post("/settings/integrations", data={"csrf_token": csrf, "service": "api", "kind": "generic"})
    assert refused.status_code == 422
    assert 'id="summary_path-error"' in refused.text
    made = client.post(
        "/settings/integrations",
        data={"csrf_token": csrf, "service": "api", "kind": "generic", "summary_path": "$.title"},
    )
    assert made.status_code == 201
    assert "/api/v1/integrations/generic/" in made.text


def test_an_unknown_service_is_shown_next_to_its_field(client: TestClient, log_in: LogIn) -> None:
    csrf = log_in(client, "alice@example.com")
    refused = client.post("/settings/integrations", data={"csrf_token": csrf, "service": "nope", "kind": "native"})
    assert refused.status_code == 404
    assert 'id="service-error"' in refused.text


def test_responders_and_viewers_see_the_integrations_but_no_key_and_cannot_create_one(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    admin = TestClient(client.app)
    csrf = log_in(admin, "alice@example.com")
    key = created_key(
        admin.post("/settings/integrations", data={"csrf_token": csrf, "service": "api", "kind": "grafana"}).text
    )

    csrf = log_in(client, "bob@example.com")
    listed = client.get("/settings/integrations")
    assert "api grafana" in listed.text
    assert key[:8] not in listed.text
    assert "New integration" not in listed.text
    assert client.get("/settings/integrations/new").status_code == 403
    refused = client.post("/settings/integrations", data={"csrf_token": csrf, "service": "api", "kind": "native"})
    assert refused.status_code == 403
    with sessions() as db:
        assert db.scalar(select(Integration).where(Integration.kind == "native")) is None


# ---- channels ----------------------------------------------------------------------------


@pytest.fixture
def team_channels(personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    with sessions() as db:
        system = Actor.system("tests")
        channels.create_channel(
            db, system, clock.now(), name="alerts", kind="discord", address=DISCORD, mention="&123",
            routes=[channels.RouteSpec(["incident.*"], "api", "P1")],
        )  # fmt: skip
        channels.create_channel(
            db, system, clock.now(), name="deploys", kind="webhook", address=HOOK, signing_secret=HOOK_SECRET,
            routes=[channels.RouteSpec(["deploy.*", "change.*"])],
        )  # fmt: skip
        db.commit()


def test_channels_are_listed_with_their_routes_and_masked_addresses_even_for_admins(
    client: TestClient, log_in: LogIn, team_channels: None
) -> None:
    for email in ("alice@example.com", "charlie@example.com"):
        log_in(client, email)
        page = client.get("/settings/channels")
        assert page.status_code == 200
        assert "https://discord.com/…" in page.text
        assert "https://hooks.example.net/…" in page.text
        for secret in ("discord-secret-token", "very-secret-path", HOOK_SECRET, "/api/webhooks/1001"):
            assert secret not in page.text
        assert "incident.* · api · P1 and above" in page.text
        assert "deploy.*, change.* · every service" in page.text
        assert "signed" in page.text


def test_a_responder_sends_a_channel_a_test_post_and_sees_what_came_of_it(
    client: TestClient, log_in: LogIn, team_channels: None, sessions: sessionmaker[Session]
) -> None:
    csrf = log_in(client, "bob@example.com")
    page = client.get("/settings/channels")
    assert "Send a test post" in page.text
    sent = client.post("/settings/channels/alerts/test", data={"csrf_token": csrf})
    assert sent.status_code == 200
    with sessions() as db:
        [queued] = db.scalars(select(Notification).where(Notification.kind == "test")).all()
        assert queued.channel_id is not None
        assert queued.status == "pending"
        test_id = queued.id
    # The page asks again in two seconds while the post waits for the engine.
    outcome = f"/settings/channels/tests/{test_id}"
    assert "queued; it goes out within seconds" in sent.text
    assert f'hx-get="{outcome}"' in sent.text

    def engine_says(status: str, error: str = "") -> str:
        with sessions() as db:
            db.execute(update(Notification).where(Notification.id == test_id).values(status=status, last_error=error))
            db.commit()
        answer = client.get(outcome, headers={"HX-Request": "true"})
        assert answer.status_code == 200
        return str(answer.text)

    failed = engine_says("failed", "HTTP 404: Discord says the webhook does not exist")
    assert "failed: HTTP 404: Discord says the webhook does not exist" in failed
    assert "hx-get" not in failed  # done: no more asking
    delivered = engine_says("sent")
    assert "Test post to <strong>alerts</strong>:\n  delivered." in delivered
    assert "hx-get" not in delivered


def test_only_a_channels_test_post_is_shown_and_only_to_responders(
    client: TestClient, log_in: LogIn, team_channels: None, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        test_id = channels.send_test(db, Actor.system("tests"), clock.now(), "alerts").id
        db.commit()
    log_in(client, "charlie@example.com")
    assert client.get(f"/settings/channels/tests/{test_id}").status_code == 403
    assert "Test post to" not in client.get(f"/settings/channels?test={test_id}").text
    log_in(client, "bob@example.com")
    assert client.get(f"/settings/channels/tests/{test_id}").status_code == 200
    assert client.get(f"/settings/channels/tests/{test_id + 1}").status_code == 404


def test_a_viewer_cannot_send_a_test_post(
    client: TestClient, log_in: LogIn, team_channels: None, sessions: sessionmaker[Session]
) -> None:
    csrf = log_in(client, "charlie@example.com")
    assert "Send a test post" not in client.get("/settings/channels").text
    refused = client.post("/settings/channels/alerts/test", data={"csrf_token": csrf})
    assert refused.status_code == 403
    with sessions() as db:
        assert db.scalars(select(Notification)).all() == []


def test_a_test_post_to_an_unknown_channel_is_a_not_found_page(client: TestClient, log_in: LogIn) -> None:
    csrf = log_in(client, "bob@example.com")
    missing = client.post("/settings/channels/nope/test", data={"csrf_token": csrf})
    assert missing.status_code == 404
    assert "no channel" in missing.text
