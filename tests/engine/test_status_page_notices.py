"""Status page subscribers, end to end with a real SMTP server (aiosmtpd) and a recording HTTP
server: subscribe on the page, confirm from the e-mail, get every public update and the
resolution once, never a private update or a drill; unsubscribe in one click; a webhook that
fails is retried with backoff."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.channels.samples import Mailbox, SmtpServer
from tests.conftest import Personas
from tests.support.fake_http import FakeHTTPServer
from tests.web.status_support import declare, live, move, page, update
from tocsin.channels.email import SmtpSettings
from tocsin.clock import FrozenClock
from tocsin.engine.status_page_notices import StatusPageNotices
from tocsin.services import status_page_subscribers as subscribers

__all__ = ["live", "page"]  # fixtures

SECRET = "s3cret-signing-key-0123456789"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, SmtpServer]]:
    box = Mailbox()
    with SmtpServer(box) as server:
        yield box, server


@pytest.fixture
def receiver() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


def wait_for(box: Mailbox, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(box.received) < count and time.monotonic() < deadline:
        time.sleep(0.02)  # polling aiosmtpd's thread, not waiting on the clock
    assert len(box.received) >= count


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_subscribers_get_every_public_update_once_and_nothing_else(
    live: TestClient,
    page: Personas,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    mailbox: tuple[Mailbox, SmtpServer],
    receiver: FakeHTTPServer,
) -> None:
    box, smtp = mailbox
    notices = StatusPageNotices("http://status.test", SmtpSettings("127.0.0.1", "status@acme.test", smtp.port))

    # Subscribe on the page; the confirmation e-mail carries a one-time link.
    answer = live.post("/status/subscribe", data={"email": "reader@example.com"})
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    assert notices.run_with(sessions, clock) == 1
    wait_for(box, 1)
    _, recipients, mail = box.received[0]
    assert recipients == ["reader@example.com"]
    assert mail["Subject"] == "Confirm your subscription to Acme"
    body = mail.get_content()
    confirm_url = next(word for word in body.split() if "/subscriptions/confirm/" in word)
    assert live.get(path_of(confirm_url)).status_code == 200  # a button, not the confirmation itself
    assert live.post(path_of(confirm_url)).status_code == 200
    assert live.post(path_of(confirm_url)).status_code == 404  # one time only

    added = live.post(
        "/api/v1/status-page/subscribers",
        json={"kind": "webhook", "address": f"{receiver.url}/hook", "signing_secret": SECRET},
        headers=page.alice.headers,
    )
    assert added.status_code == 201, added.text

    # An incident: a private update, a public one, a drill's public update.
    incident = declare(sessions, page.bob.actor, clock.now(), "Payments failing", "P1", ("api",))
    update(sessions, page.bob.actor, clock.now(), incident, "PRIVATE: the provider's fault", public=False)
    update(sessions, page.bob.actor, clock.now(), incident, "Some payments fail; we are on it.", public=True)
    drill = declare(sessions, page.bob.actor, clock.now(), "Game day", "P0", ("api",), drill=True)
    update(sessions, page.bob.actor, clock.now(), drill, "DRILL words", public=True)
    assert notices.run_with(sessions, clock) == 2  # one e-mail, one webhook
    wait_for(box, 2)
    _, recipients, mail = box.received[1]
    assert recipients == ["reader@example.com"]
    assert mail["Subject"] == "[Acme] Payments failing: Investigating"
    assert "Some payments fail; we are on it." in mail.get_content()
    unsubscribe_url = mail["List-Unsubscribe"].strip("<>")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [hook] = receiver.requests
    document = hook.json()
    assert document["incident"]["name"] == "Payments failing"
    assert document["page"]["status_indicator"] == "major"
    assert [u["body"] for u in document["incident"]["incident_updates"]] == ["Some payments fail; we are on it."]
    expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.header("X-Tocsin-Signature") == expected
    for text in ("PRIVATE", "DRILL", "Game day", "Bob Responder"):
        assert text not in hook.body.decode()
        assert text not in mail.as_string()

    # Read again: nothing new is owed.
    clock.advance(timedelta(minutes=1))
    assert notices.run_with(sessions, clock) == 0

    # Resolution reaches both; a webhook that fails once is tried again later.
    receiver.respond(503)
    move(sessions, page.bob.actor, clock.now(), incident, "resolved")
    assert notices.run_with(sessions, clock) == 2
    wait_for(box, 3)
    assert box.received[2][2]["Subject"] == "[Acme] Payments failing: Resolved"
    assert len(receiver.requests) == 2
    with sessions() as db:
        pending = [d for d in subscribers.deliveries(db) if d.status == "pending"]
        assert [(d.attempts, "503" in d.last_error) for d in pending] == [(1, True)]
    clock.advance(timedelta(minutes=1))
    assert notices.run_with(sessions, clock) == 1
    assert receiver.requests[2].json()["incident"]["status"] == "resolved"

    # One click from the mail client unsubscribes; the webhook goes on.
    one_click = live.post(path_of(unsubscribe_url), content=b"List-Unsubscribe=One-Click")
    assert one_click.status_code == 200
    assert live.get(path_of(unsubscribe_url)).status_code == 404
    move(sessions, page.bob.actor, clock.now(), incident, "investigating")
    update(sessions, page.bob.actor, clock.now(), incident, "It is back.", public=True)
    assert notices.run_with(sessions, clock) == 1
    assert len(box.received) == 3
    assert receiver.requests[3].json()["incident"]["incident_updates"][0]["body"] == "It is back."


@pytest.mark.usefixtures("page")
def test_a_bad_address_re_renders_the_form_and_a_second_subscribe_sends_no_second_mail(
    live: TestClient, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    bad = live.post("/status/subscribe", data={"email": "not-an-address"})
    assert bad.status_code == 422
    assert "not-an-address" in bad.text
    assert live.post("/status/subscribe", data={"email": "reader@example.com"}).status_code == 200
    assert live.post("/status/subscribe", data={"email": "Reader@Example.com"}).status_code == 200
    with sessions() as db:
        assert [d.kind for d in subscribers.deliveries(db)] == ["confirm"]
    clock.advance(timedelta(minutes=11))
    assert live.post("/status/subscribe", data={"email": "reader@example.com"}).status_code == 200
    with sessions() as db:
        assert [d.kind for d in subscribers.deliveries(db)] == ["confirm", "confirm"]


def test_without_a_mail_server_an_e_mail_fails_at_once(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    del page
    live.post("/status/subscribe", data={"email": "reader@example.com"})
    StatusPageNotices("http://status.test", None).run_with(sessions, clock)
    with sessions() as db:
        [delivery] = subscribers.deliveries(db)
        assert delivery.status == "failed"
        assert "TOCSIN_SMTP_HOST" in delivery.last_error


def test_subscribers_are_managed_by_admins_only(live: TestClient, page: Personas) -> None:
    body = {"kind": "email", "address": "ceo@example.com"}
    assert live.post("/api/v1/status-page/subscribers", json=body, headers=page.bob.headers).status_code == 403
    made = live.post("/api/v1/status-page/subscribers", json=body, headers=page.alice.headers)
    assert made.status_code == 201
    assert made.json()["confirmed"] is True
    again = live.post("/api/v1/status-page/subscribers", json=body, headers=page.alice.headers)
    assert again.status_code == 409
    bad = live.post(
        "/api/v1/status-page/subscribers", json={"kind": "webhook", "address": "ftp://x"}, headers=page.alice.headers
    )
    assert bad.status_code == 422
    assert "url" in bad.text
    listed = live.get("/api/v1/status-page/subscribers", headers=page.alice.headers).json()
    assert [s["address"] for s in listed] == ["ceo@example.com"]
    gone = live.delete(f"/api/v1/status-page/subscribers/{listed[0]['id']}", headers=page.alice.headers)
    assert gone.status_code == 204


def test_settled_deliveries_are_forgotten_after_thirty_days_and_pending_ones_never(
    live: TestClient,
    page: Personas,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    receiver: FakeHTTPServer,
) -> None:
    notices = StatusPageNotices("http://status.test")
    added = live.post(
        "/api/v1/status-page/subscribers",
        json={"kind": "webhook", "address": f"{receiver.url}/hook"},
        headers=page.alice.headers,
    )
    assert added.status_code == 201, added.text
    incident = declare(sessions, page.bob.actor, clock.now(), "Payments failing", "P1", ("api",))
    update(sessions, page.bob.actor, clock.now(), incident, "Some payments fail.", public=True)
    assert notices.run_with(sessions, clock) == 1
    receiver.respond(503, times=1000)
    update(sessions, page.bob.actor, clock.now(), incident, "Still failing.", public=True)
    assert notices.run_with(sessions, clock) == 1
    with sessions() as db:
        sent, retrying = subscribers.deliveries(db)
        assert (sent.status, retrying.status) == ("sent", "pending")

    clock.advance(timedelta(days=29))
    notices.run_with(sessions, clock)
    with sessions() as db:
        assert [d.id for d in subscribers.deliveries(db)] == [sent.id, retrying.id]

    # Thirty days on, the sent one goes at the next pruning; one still owed is never forgotten.
    clock.advance(timedelta(days=1, minutes=1))
    notices.run_with(sessions, clock)
    with sessions() as db:
        assert [(d.id, d.status) for d in subscribers.deliveries(db)] == [(retrying.id, "pending")]
