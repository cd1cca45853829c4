"""The deliveries module against fake far ends: Discord and Slack webhooks on fake HTTP
servers, e-mail through a real SMTP server. Time moves by the injected clock."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from tests.channels.samples import Mailbox, SmtpServer
from tests.conftest import Personas
from tests.support.fake_http import Answer, FakeHTTPServer, RecordedRequest
from tocsin.channels.email import SmtpSettings
from tocsin.clock import FrozenClock
from tocsin.engine.deliveries import Deliveries
from tocsin.engine.runner import Runner
from tocsin.services import incidents, notifications
from tocsin.storage import models

MENTION = "80351110224678912"
PAYLOAD: dict[str, Any] = {
    "title": "Checkout is down",
    "text": "5xx ratio 12% over 5m",
    "severity": "P1",
    "incident": "INC-2026-11-23-001",
    "url": "https://tocsin.example.com/incidents/INC-2026-11-23-001",
    "ack_url": "https://tocsin.example.com/ack/abc.sig",
    "fields": [["Service", "checkout"]],
}


@dataclass
class Bob:
    user_id: int
    incident_id: int
    methods: dict[str, int]  # contact method name → id


@pytest.fixture
def discord() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


@pytest.fixture
def slack() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer(Answer(200, "ok")) as server:
        yield server


@pytest.fixture
def mailbox() -> Iterator[SmtpServer]:
    with SmtpServer(Mailbox()) as server:
        yield server


@pytest.fixture
def bob(
    sessions: sessionmaker[Session],
    personas: Personas,
    clock: FrozenClock,
    discord: FakeHTTPServer,
    slack: FakeHTTPServer,
) -> Bob:
    """Bob's rules: Discord at once, then Slack, then e-mail."""
    with sessions() as db:
        user = db.scalars(select(models.User).where(models.User.email == personas.bob.email)).one()
        incident = incidents.declare(db, personas.bob.actor, clock.now(), title="Checkout is down", severity="P1")
        methods: dict[str, int] = {}
        for delay, (name, kind, address, mention) in enumerate(
            (
                ("discord", "discord", f"{discord.url}/api/webhooks/1/token-abc", MENTION),
                ("slack", "slack", f"{slack.url}/services/T0/B0/token", None),
                ("mail", "email", "bob@example.com", None),
            )
        ):
            method = models.ContactMethod(
                user_id=user.id, name=name, kind=kind, address=address, mention=mention, created_at=clock.now()
            )
            db.add(method)
            db.flush()
            db.add(models.NotificationRule(user_id=user.id, contact_method_id=method.id, delay_s=delay * 60))
            methods[name] = method.id
        db.commit()
        return Bob(user.id, incident.id, methods)


def page(
    sessions: sessionmaker[Session],
    bob: Bob,
    clock: FrozenClock,
    method: str,
    key: str,
    *,
    kind: str = "page",
    due_in: timedelta = timedelta(0),
    status: str = "pending",
) -> int:
    with sessions() as db:
        row = models.Notification(
            idempotency_key=key,
            incident_id=bob.incident_id,
            user_id=bob.user_id,
            contact_method_id=bob.methods[method],
            kind=kind,
            channel=method,
            step="round 1, level 1",
            status=status,
            due_at=clock.now() + due_in,
            attempts=0,
            last_error="",
            payload=PAYLOAD,
            created_at=clock.now(),
        )
        db.add(row)
        db.commit()
        return row.id


def row(sessions: sessionmaker[Session], notification_id: int) -> models.Notification:
    with sessions() as db:
        found = db.get(models.Notification, notification_id)
        assert found is not None
        db.expunge(found)
        return found


def deliveries(mailbox: SmtpServer | None = None, **options: Any) -> Deliveries:
    smtp = SmtpSettings(host="127.0.0.1", port=mailbox.port, from_address="tocsin@example.com") if mailbox else None
    return Deliveries(smtp, rng=random.Random(7), timeout=5.0, **options)


def runner(sessions: sessionmaker[Session], clock: FrozenClock, module: Deliveries, holder: str = "test") -> Runner:
    return Runner(sessions, clock, [module], holder=holder)


def test_a_due_page_is_sent_to_discord_with_the_mention_and_marked_sent(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    notification = page(sessions, bob, clock, "discord", "esc-1/step-0/bob/discord")
    assert runner(sessions, clock, deliveries()).cycle() == {"deliveries": 1}

    [request] = discord.requests
    assert request.route == "/api/webhooks/1/token-abc"
    body = request.json()
    assert body["content"] == f"<@{MENTION}> [P1] INC-2026-11-23-001 Checkout is down"
    assert body["allowed_mentions"] == {"parse": [], "users": [MENTION]}
    [embed] = body["embeds"]
    assert embed["url"] == PAYLOAD["url"]
    assert "[Acknowledge](https://tocsin.example.com/ack/abc.sig)" in embed["description"]
    assert embed["fields"][0]["name"] == "Service"
    sent = row(sessions, notification)
    assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == ("sent", 1, clock.now(), "")
    # Sent is final: another cycle sends nothing.
    assert runner(sessions, clock, deliveries()).cycle() == {"deliveries": 0}
    assert len(discord.requests) == 1


def test_slack_and_email_get_the_same_page_in_their_own_formats(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, slack: FakeHTTPServer, mailbox: SmtpServer
) -> None:
    to_slack = page(sessions, bob, clock, "slack", "k-slack")
    to_mail = page(sessions, bob, clock, "mail", "k-mail")
    assert runner(sessions, clock, deliveries(mailbox)).cycle() == {"deliveries": 2}

    [request] = slack.requests
    blocks = request.json()["blocks"]
    assert blocks[0]["text"]["text"] == "[P1] INC-2026-11-23-001 Checkout is down"
    [(_sender, recipients, mail)] = mailbox.mailbox.received
    assert recipients == ["bob@example.com"]
    assert mail["Subject"] == "[P1] INC-2026-11-23-001 Checkout is down"
    assert row(sessions, to_slack).status == row(sessions, to_mail).status == "sent"


def test_email_without_smtp_settings_fails_with_a_clear_error(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    notification = page(sessions, bob, clock, "mail", "k-mail", kind="test")
    runner(sessions, clock, deliveries()).cycle()
    failed = row(sessions, notification)
    assert (failed.status, failed.last_error) == ("failed", "e-mail is not set up: no SMTP server is configured")


def test_a_rate_limited_page_waits_for_retry_after_then_is_sent(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    discord.respond(429, {"message": "You are being rate limited.", "retry_after": 30.0}, {"Retry-After": "30"})
    notification = page(sessions, bob, clock, "discord", "k-429")
    engine = runner(sessions, clock, deliveries())
    engine.cycle()

    waiting = row(sessions, notification)
    assert waiting.status == "pending"
    assert waiting.attempts == 1
    assert waiting.due_at >= clock.now() + timedelta(seconds=30)
    assert "429" in waiting.last_error
    clock.advance(timedelta(seconds=29))
    assert engine.cycle() == {"deliveries": 0}
    assert len(discord.requests) == 1

    clock.advance(waiting.due_at - clock.now())
    assert engine.cycle() == {"deliveries": 1}
    assert len(discord.requests) == 2
    # The same key on both attempts, so a receiver could tell them apart from new pages.
    sent = row(sessions, notification)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, "")


def test_a_deleted_webhook_fails_at_once_and_the_page_falls_to_the_next_contact_method(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, discord: FakeHTTPServer, slack: FakeHTTPServer
) -> None:
    discord.respond(404, {"message": "Unknown Webhook", "code": 10015})
    notification = page(sessions, bob, clock, "discord", "k-404")
    engine = runner(sessions, clock, deliveries())
    engine.cycle()

    failed = row(sessions, notification)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error == "127.0.0.1 refused the message: HTTP 404 (Unknown Webhook, code 10015)"
    with sessions() as db:
        [entry] = [
            e
            for e in db.scalars(select(models.TimelineEntry).where(models.TimelineEntry.incident_id == bob.incident_id))
            if e.data.get("notification") == notification
        ]
        assert entry.summary == (
            "Page to bob via discord failed: 127.0.0.1 refused the message: "
            "HTTP 404 (Unknown Webhook, code 10015); trying slack"
        )
        [fallback] = db.scalars(
            select(models.Notification).where(
                models.Notification.idempotency_key == "k-404/next-" + str(bob.methods["slack"])
            )
        )
        assert (fallback.status, fallback.channel, fallback.due_at) == ("pending", "slack", clock.now())

    assert engine.cycle() == {"deliveries": 1}
    [request] = slack.requests
    assert "Checkout is down" in request.json()["blocks"][0]["text"]["text"]


def test_a_server_error_is_retried_with_backoff_and_fails_after_five_attempts(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    discord.default = Answer(500, {"message": "Internal Server Error"})
    # A test notification: a failed test does not fall back to another method.
    notification = page(sessions, bob, clock, "discord", "k-500", kind="test")
    engine = runner(sessions, clock, deliveries())
    for attempt in range(1, 6):
        assert engine.cycle() == {"deliveries": 1}
        current = row(sessions, notification)
        assert current.attempts == attempt
        if attempt < 5:
            assert current.status == "pending"
            assert current.due_at > clock.now() - timedelta(seconds=1)
            clock.advance(timedelta(minutes=10))  # the longest backoff
    failed = row(sessions, notification)
    assert failed.status == "failed"
    assert failed.last_error == "127.0.0.1 answered HTTP 500 (Internal Server Error) (gave up after 5 attempts)"
    clock.advance(timedelta(hours=1))
    assert engine.cycle() == {"deliveries": 0}
    assert len(discord.requests) == 5


def test_a_canceled_page_is_never_sent(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    notification = page(sessions, bob, clock, "discord", "k-canceled", status="canceled")
    clock.advance(timedelta(hours=1))
    assert runner(sessions, clock, deliveries()).cycle() == {"deliveries": 0}
    assert discord.requests == []
    assert row(sessions, notification).status == "canceled"


def test_a_page_due_later_waits_until_the_clock_reaches_it(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    notification = page(sessions, bob, clock, "discord", "k-later", due_in=timedelta(minutes=2))
    engine = runner(sessions, clock, deliveries())
    clock.advance(timedelta(minutes=1, seconds=59))
    assert engine.cycle() == {"deliveries": 0}
    assert discord.requests == []
    clock.advance(timedelta(seconds=1))
    assert engine.cycle() == {"deliveries": 1}
    assert row(sessions, notification).status == "sent"


def test_a_crashed_senders_claim_expires_and_another_sender_delivers(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    notification = page(sessions, bob, clock, "discord", "k-crash")
    with sessions() as db, db.begin():
        [claimed] = notifications.claim_due(db, clock.now(), 10, timedelta(minutes=2))
    # … and the sender died before sending or recording anything.
    engine = runner(sessions, clock, deliveries(), holder="other")
    clock.advance(timedelta(minutes=1))
    assert engine.cycle() == {"deliveries": 0}
    clock.advance(timedelta(minutes=1))
    assert engine.cycle() == {"deliveries": 1}
    assert len(discord.requests) == 1
    sent = row(sessions, notification)
    assert (sent.status, sent.attempts) == ("sent", claimed.attempts + 1)


class Probe(FakeHTTPServer):
    """Notes, as each request arrives, how many database transactions are open."""

    def __init__(self, open_transactions: set[int]) -> None:
        self.open_transactions = open_transactions
        self.seen_open: list[int] = []
        super().__init__()

    def _record(self, request: RecordedRequest) -> Answer:
        self.seen_open.append(len(self.open_transactions))
        return super()._record(request)


def test_no_database_transaction_is_open_while_sending(
    engine: Engine, sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    open_transactions: set[int] = set()

    def began(connection: Any) -> None:
        open_transactions.add(id(connection))

    def ended(connection: Any) -> None:
        open_transactions.discard(id(connection))

    probe = Probe(open_transactions)
    with probe:
        with sessions() as db:
            method = db.get(models.ContactMethod, bob.methods["discord"])
            assert method is not None
            method.address = f"{probe.url}/api/webhooks/1/token-abc"
            db.commit()
        for n in range(3):
            page(sessions, bob, clock, "discord", f"k-tx-{n}")
        listeners = (("begin", began), ("commit", ended), ("rollback", ended))
        for name, listener in listeners:
            event.listen(engine, name, listener)
        try:
            assert runner(sessions, clock, deliveries()).cycle() == {"deliveries": 3}
        finally:
            for name, listener in listeners:
                event.remove(engine, name, listener)
        assert probe.seen_open == [0, 0, 0]


def _bulk(sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, sink: FakeHTTPServer, count: int) -> None:
    with sessions() as db:
        method = models.ContactMethod(
            user_id=bob.user_id, name="hook", kind="webhook", address=f"{sink.url}/hook", created_at=clock.now()
        )
        db.add(method)
        db.flush()
        db.add_all(
            models.Notification(
                idempotency_key=f"bulk-{n}",
                incident_id=bob.incident_id,
                user_id=bob.user_id,
                contact_method_id=method.id,
                kind="page",
                channel="webhook",
                status="pending",
                due_at=clock.now(),
                attempts=0,
                last_error="",
                payload=PAYLOAD,
                created_at=clock.now(),
            )
            for n in range(count)
        )
        db.commit()


def _all_sent_once(sessions: sessionmaker[Session], sink: FakeHTTPServer, count: int) -> None:
    deliveries_seen = Counter(request.header("X-Tocsin-Delivery") for request in sink.requests)
    assert deliveries_seen == Counter({f"bulk-{n}": 1 for n in range(count)})
    with sessions() as db:
        statuses = Counter(
            db.scalars(select(models.Notification.status).where(models.Notification.idempotency_key.like("bulk-%")))
        )
    assert statuses == Counter({"sent": count})


def test_two_runners_in_two_threads_deliver_every_page_exactly_once(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with FakeHTTPServer() as sink:
        _bulk(sessions, bob, clock, sink, 200)
        barrier = threading.Barrier(2)

        def drain(holder: str) -> None:
            engine = runner(sessions, clock, deliveries(batch=8), holder=holder)
            barrier.wait()
            while engine.cycle()["deliveries"] != 0:
                pass

        threads = [threading.Thread(target=drain, args=(holder,)) for holder in ("one", "two")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _all_sent_once(sessions, sink, 200)


def test_claims_alone_keep_two_racing_senders_from_sending_twice(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with FakeHTTPServer() as sink:
        _bulk(sessions, bob, clock, sink, 200)
        # The module without the runner's lease: only the claims stand between the two.
        barrier = threading.Barrier(2)
        handled: list[int] = []

        def drain() -> None:
            module = deliveries(batch=5, workers=4)
            barrier.wait()
            while count := module.run_with(sessions, clock):
                handled.append(count)

        threads = [threading.Thread(target=drain) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(handled) == 200
        _all_sent_once(sessions, sink, 200)
