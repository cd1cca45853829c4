"""The deliveries module against fake far ends: Discord and Slack webhooks on fake HTTP
servers, e-mail through a real SMTP server. Time moves by the injected clock."""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.channels.samples import Mailbox, SmtpServer
from tests.conftest import Personas
from tests.support.fake_http import Answer, FakeHTTPServer, RecordedRequest
from tests.support.paging import Bob, seed_bob
from tocsin.channels.email import SmtpSettings
from tocsin.clock import FrozenClock
from tocsin.engine.deliveries import Deliveries
from tocsin.engine.runner import Runner
from tocsin.services import notifications
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
    return seed_bob(
        sessions,
        personas,
        clock,
        (
            ("discord", "discord", f"{discord.url}/api/webhooks/1/token-abc", MENTION),
            ("slack", "slack", f"{slack.url}/services/T0/B0/token", None),
            ("mail", "email", "bob@example.com", None),
        ),
    )


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
    options.setdefault("timeout", 5.0)
    return Deliveries(smtp, rng=random.Random(7), **options)


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


# ---- team channels ---------------------------------------------------------------------------

ROLE = "&1081234567890123456"
CHANNEL_SECRET = "whsec-team-channel-0123456789"


def team_channel(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    kind: str,
    address: str,
    *,
    mention: str | None = None,
    secret: str | None = None,
) -> int:
    """A channel row made here, not through the channels service: the engine only needs the row."""
    with sessions() as db:
        channel = models.Channel(
            name="alerts",
            kind=kind,
            address=address,
            mention=mention,
            signing_secret=secret,
            managed=False,
            created_at=clock.now(),
        )
        db.add(channel)
        db.commit()
        return channel.id


def post(sessions: sessionmaker[Session], clock: FrozenClock, channel_id: int, key: str, **payload: Any) -> int:
    """A post as the channel posts module plans it: no user, no contact method, no incident id."""
    with sessions() as db:
        row = models.Notification(
            idempotency_key=key,
            channel_id=channel_id,
            kind="post",
            channel=db.get(models.Channel, channel_id).kind,  # type: ignore[union-attr]
            status="pending",
            due_at=clock.now(),
            attempts=0,
            last_error="",
            payload={**PAYLOAD, **payload},
            created_at=clock.now(),
        )
        db.add(row)
        db.commit()
        return row.id


def test_a_post_goes_to_the_team_channel_and_pings_its_role(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    channel = team_channel(sessions, clock, "discord", f"{discord.url}/api/webhooks/9/team-token", mention=ROLE)
    notification = post(sessions, clock, channel, "post:1:timeline:1", message_kind="resolved", mention=True)
    assert runner(sessions, clock, deliveries()).cycle() == {"deliveries": 1}

    [request] = discord.requests
    assert request.route == "/api/webhooks/9/team-token"
    body = request.json()
    assert body["content"] == "<@&1081234567890123456> Resolved: [P1] INC-2026-11-23-001 Checkout is down"
    assert body["allowed_mentions"] == {"parse": [], "roles": ["1081234567890123456"]}
    assert body["embeds"][0]["color"] == 0x2EB67D  # resolved is green, whatever the severity
    assert row(sessions, notification).status == "sent"


def test_a_post_that_calls_for_nobody_does_not_ping_the_role(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, slack: FakeHTTPServer
) -> None:
    channel = team_channel(sessions, clock, "slack", f"{slack.url}/services/T0/B9/team", mention="&S0614TZR7")
    post(sessions, clock, channel, "post:1:change:1", mention=False)
    post(sessions, clock, channel, "post:1:change:2", mention=True)
    runner(sessions, clock, deliveries()).cycle()

    quiet, loud = sorted(slack.requests, key=lambda r: "subteam" in r.json()["text"])
    assert quiet.json()["text"] == "[P1] INC-2026-11-23-001 Checkout is down"
    assert loud.json()["text"] == "<!subteam^S0614TZR7> [P1] INC-2026-11-23-001 Checkout is down"


def test_a_webhook_channels_post_is_signed_with_the_channels_secret(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with FakeHTTPServer() as sink:
        channel = team_channel(sessions, clock, "webhook", f"{sink.url}/team", secret=CHANNEL_SECRET)
        post(sessions, clock, channel, "post:2:timeline:7")
        runner(sessions, clock, deliveries()).cycle()
        [request] = sink.requests
    expected = "sha256=" + hmac.new(CHANNEL_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.header("X-Tocsin-Signature") == expected
    assert request.json()["kind"] == "post"


def test_a_failing_post_retries_then_fails_on_its_own_and_says_so_on_the_incident_timeline(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    discord.default = Answer(502, {"message": "Bad Gateway"})
    channel = team_channel(sessions, clock, "discord", f"{discord.url}/api/webhooks/9/team-token")
    with sessions() as db:
        incident = db.get(models.Incident, bob.incident_id)
        assert incident is not None
        human_id = incident.human_id
    notification = post(sessions, clock, channel, "post:1:timeline:3", incident=human_id)
    engine = runner(sessions, clock, deliveries())
    for _ in range(notifications.MAX_ATTEMPTS):
        assert engine.cycle() == {"deliveries": 1}
        clock.advance(timedelta(minutes=10))  # past the longest backoff
    assert engine.cycle() == {"deliveries": 0}

    failed = row(sessions, notification)
    assert (failed.status, failed.attempts) == ("failed", 5)
    assert failed.last_error == "127.0.0.1 answered HTTP 502 (Bad Gateway) (gave up after 5 attempts)"
    with sessions() as db:
        # Nobody to fall back to: the post is the only row.
        assert db.scalar(select(func.count()).select_from(models.Notification)) == 1
        summaries = [
            e.summary
            for e in db.scalars(select(models.TimelineEntry).where(models.TimelineEntry.incident_id == bob.incident_id))
        ]
    assert f"Post to the alerts channel via discord failed: {failed.last_error}" in summaries


def test_a_post_whose_channel_was_removed_fails_when_claimed(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    channel = team_channel(sessions, clock, "discord", f"{discord.url}/api/webhooks/9/team-token")
    notification = post(sessions, clock, channel, "post:1:timeline:4")
    with sessions() as db:
        db.delete(db.get(models.Channel, channel))
        db.commit()
    assert runner(sessions, clock, deliveries()).cycle() == {"deliveries": 0}
    failed = row(sessions, notification)
    assert (failed.status, failed.last_error) == ("failed", "the team channel was removed")
    assert discord.requests == []


# ---- signed webhook contact methods ----------------------------------------------------------


def test_a_webhook_contact_method_signs_its_pages_once_it_has_a_secret(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with FakeHTTPServer() as sink:
        with sessions() as db:
            method = models.ContactMethod(
                user_id=bob.user_id, name="hook", kind="webhook", address=f"{sink.url}/hook", created_at=clock.now()
            )
            db.add(method)
            db.commit()
            bob.methods["hook"] = method.id
        page(sessions, bob, clock, "hook", "k-unsigned")
        runner(sessions, clock, deliveries()).cycle()
        with sessions() as db:
            signed = db.get(models.ContactMethod, bob.methods["hook"])
            assert signed is not None
            signed.signing_secret = CHANNEL_SECRET
            db.commit()
        page(sessions, bob, clock, "hook", "k-signed")
        runner(sessions, clock, deliveries()).cycle()
        unsigned_request, signed_request = sink.requests
    assert unsigned_request.header("X-Tocsin-Signature") is None
    expected = "sha256=" + hmac.new(CHANNEL_SECRET.encode(), signed_request.body, hashlib.sha256).hexdigest()
    assert signed_request.header("X-Tocsin-Signature") == expected


# ---- throughput: batches, the claim's deadline, no lock held while sending ----------------------


def test_a_backlog_drains_in_one_run_batch_after_batch(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with FakeHTTPServer() as sink:
        _bulk(sessions, bob, clock, sink, 25)
        # Three full batches and a part: no waiting for the next engine cycle in between.
        assert runner(sessions, clock, deliveries(batch=8)).cycle() == {"deliveries": 25}
        _all_sent_once(sessions, sink, 25)


def test_the_time_budget_ends_a_run_after_the_batch_in_hand(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with FakeHTTPServer() as sink:
        _bulk(sessions, bob, clock, sink, 25)
        module = deliveries(batch=8, budget=0.0)
        # The other modules get their turn: each run takes one batch, the next run goes on.
        assert [module.run_with(sessions, clock) for _ in range(5)] == [8, 8, 8, 1, 0]
        _all_sent_once(sessions, sink, 25)


class Timer:
    """A monotonic clock for the module's send budget that only the far end moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SlowFarEnd(FakeHTTPServer):
    """Each request takes `seconds` of the module's (fake) monotonic time."""

    def __init__(self, timer: Timer, seconds: float) -> None:
        self.timer, self.seconds = timer, seconds
        super().__init__()

    def _record(self, request: RecordedRequest) -> Answer:
        self.timer.now += self.seconds
        return super()._record(request)


def test_sends_that_could_not_finish_before_the_claims_deadline_go_back_unsent(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    timer = Timer()
    with SlowFarEnd(timer, 50.0) as sink:
        _bulk(sessions, bob, clock, sink, 4)
        # Lease 120 s, each send bounded by 3 times 10 s: sends may start until 90 s after the claim.
        module = deliveries(batch=4, workers=1, lease=timedelta(minutes=2), timeout=10.0, timer=timer)
        assert module.run_with(sessions, clock) == 2  # started at 0 s and 50 s; 100 s is too late
        assert len(sink.requests) == 2
        with sessions() as db:
            rows = db.scalars(select(models.Notification).order_by(models.Notification.id)).all()
            assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("sent", 1), ("pending", 0), ("pending", 0)]
            assert {(r.due_at, r.deadline) for r in rows[2:]} == {(clock.now(), None)}
        # They are due at once, and the next run sends them.
        assert module.run_with(sessions, clock) == 2
        _all_sent_once(sessions, sink, 4)


class Holding(FakeHTTPServer):
    """Holds every request until `release` is set, like a far end that hangs."""

    def __init__(self) -> None:
        self.release = threading.Event()
        super().__init__()

    def _record(self, request: RecordedRequest) -> Answer:
        answer = super()._record(request)
        self.release.wait(30)
        return answer


def test_a_hanging_far_end_holds_no_database_lock_while_the_next_batch_is_claimed(
    engine: Engine, sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock, backend: str
) -> None:
    sink = Holding()
    with sink:
        _bulk(sessions, bob, clock, sink, 6)
        module = deliveries(batch=2, workers=2)
        sender = threading.Thread(target=module.run_with, args=(sessions, clock))
        sender.start()
        try:
            sink.wait_for_requests(2)
            # While both workers wait on the far end, another writer gets its locks at once.
            # (SQLite's BEGIN IMMEDIATE takes the write lock or waits out the busy timeout.)
            with engine.connect() as connection, connection.begin():
                if backend == "postgresql":
                    connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                claimed = connection.execute(
                    select(models.Notification.id)
                    .where(models.Notification.status == "sending")
                    .with_for_update(nowait=backend == "postgresql")
                ).all()
                connection.execute(
                    update(models.Notification)
                    .where(models.Notification.status == "sending")
                    .values(step="touched while sending")
                )
            assert len(claimed) >= 2  # at least the batch on the wire
        finally:
            sink.release.set()
            sender.join(30)
        _all_sent_once(sessions, sink, 6)


def test_a_slow_far_end_has_as_many_pages_in_flight_as_workers_without_a_thread_for_each(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    sink = Holding()
    with sink:
        _bulk(sessions, bob, clock, sink, 40)
        module = deliveries(batch=40, workers=16)
        before = set(threading.enumerate())
        sender = threading.Thread(target=module.run_with, args=(sessions, clock))
        sender.start()
        try:
            sink.wait_for_requests(16)
            # The sixteen requests are coroutines on the module's event loop, its one thread.
            started = [t.name for t in set(threading.enumerate()) - before if t.name.startswith("delivery")]
            assert started == ["delivery-loop"]
            assert len(sink.requests) == 16  # and no more than `workers` at once
        finally:
            sink.release.set()
            sender.join(30)
        module.close()
        _all_sent_once(sessions, sink, 40)
