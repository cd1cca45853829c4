"""Claiming due notifications and recording attempts, without any network."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.paging import Bob, seed_bob
from tocsin.clock import FrozenClock
from tocsin.services import incidents, notifications
from tocsin.services.notifications import Attempt
from tocsin.storage import models

LEASE = timedelta(minutes=2)


@pytest.fixture
def bob(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> Bob:
    """Bob's rules: Discord at once, e-mail after a minute."""
    return seed_bob(
        sessions,
        personas,
        clock,
        (
            ("discord", "discord", "https://discord.example/api/webhooks/1/t", None),
            ("mail", "email", "bob@example.com", None),
        ),
    )


def add(
    sessions: sessionmaker[Session],
    bob: Bob,
    clock: FrozenClock,
    key: str,
    *,
    method: str = "discord",
    status: str = "pending",
    due_in: timedelta = timedelta(0),
    kind: str = "page",
) -> int:
    with sessions() as db:
        row = models.Notification(
            idempotency_key=key,
            incident_id=bob.incident_id,
            user_id=bob.user_id,
            contact_method_id=bob.methods[method],
            kind=kind,
            channel=method,
            status=status,
            due_at=clock.now() + due_in,
            attempts=0,
            last_error="",
            payload={"title": "Checkout is down"},
            created_at=clock.now(),
        )
        db.add(row)
        db.commit()
        return row.id


def claim(sessions: sessionmaker[Session], clock: FrozenClock, batch: int = 10) -> list[notifications.Claimed]:
    with sessions() as db, db.begin():
        return notifications.claim_due(db, clock.now(), batch, LEASE)


def record(
    sessions: sessionmaker[Session], clock: FrozenClock, item: notifications.Claimed, result: Attempt
) -> str | None:
    with sessions() as db, db.begin():
        return notifications.record(db, clock.now(), item.id, item.attempts, result)


def get(sessions: sessionmaker[Session], notification_id: int) -> models.Notification:
    with sessions() as db:
        row = db.get(models.Notification, notification_id)
        assert row is not None
        db.expunge(row)
        return row


def test_a_claim_takes_due_pending_rows_only_and_leases_them(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    due = add(sessions, bob, clock, "due")
    add(sessions, bob, clock, "later", due_in=timedelta(seconds=1))
    add(sessions, bob, clock, "canceled", status="canceled")
    add(sessions, bob, clock, "sent", status="sent")
    [item] = claim(sessions, clock)
    assert (item.id, item.idempotency_key, item.channel, item.attempts) == (due, "due", "discord", 1)
    assert item.address == "https://discord.example/api/webhooks/1/t"
    row = get(sessions, due)
    assert (row.status, row.deadline, row.attempts) == ("sending", clock.now() + LEASE, 1)
    # Claimed rows are not claimed again while the lease holds.
    assert claim(sessions, clock) == []


def test_a_claim_reads_the_contact_methods_current_address(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    add(sessions, bob, clock, "k")
    with sessions() as db:
        method = db.get(models.ContactMethod, bob.methods["discord"])
        assert method is not None
        method.address = "https://discord.example/api/webhooks/2/new"
        db.commit()
    [item] = claim(sessions, clock)
    assert item.address == "https://discord.example/api/webhooks/2/new"


def test_a_crashed_senders_rows_are_claimed_again_after_the_deadline(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    add(sessions, bob, clock, "k")
    [first] = claim(sessions, clock)
    clock.advance(LEASE - timedelta(seconds=1))
    assert claim(sessions, clock) == []
    clock.advance(timedelta(seconds=1))
    [second] = claim(sessions, clock)
    assert (second.id, second.attempts) == (first.id, 2)
    # The crashed sender's late result no longer counts: its attempt is not the row's latest.
    assert record(sessions, clock, first, Attempt("ok")) is None
    assert get(sessions, first.id).status == "sending"
    assert record(sessions, clock, second, Attempt("ok")) == "sent"


def test_the_batch_limits_a_claim(sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock) -> None:
    for n in range(5):
        add(sessions, bob, clock, f"k{n}")
    assert len(claim(sessions, clock, batch=3)) == 3
    assert len(claim(sessions, clock, batch=3)) == 2


def test_a_row_without_a_contact_method_fails_at_claim(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    notification = add(sessions, bob, clock, "k", kind="test")
    with sessions() as db:
        row = db.get(models.Notification, notification)
        assert row is not None
        row.contact_method_id = None
        db.commit()
    assert claim(sessions, clock) == []
    failed = get(sessions, notification)
    assert (failed.status, failed.last_error) == ("failed", "the contact method was removed")


def test_ok_marks_the_row_sent(sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock) -> None:
    add(sessions, bob, clock, "k")
    [item] = claim(sessions, clock)
    assert record(sessions, clock, item, Attempt("ok")) == "sent"
    row = get(sessions, item.id)
    assert (row.status, row.sent_at, row.deadline) == ("sent", clock.now(), None)


def test_a_retry_puts_the_row_back_until_the_attempt_limit(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    add(sessions, bob, clock, "k", kind="test")
    for attempt in range(1, notifications.MAX_ATTEMPTS):
        [item] = claim(sessions, clock)
        assert item.attempts == attempt
        retry_at = clock.now() + timedelta(seconds=30)
        assert record(sessions, clock, item, Attempt("retry", "HTTP 503", retry_at)) == "pending"
        row = get(sessions, item.id)
        assert (row.due_at, row.last_error) == (retry_at, "HTTP 503")
        assert claim(sessions, clock) == []
        clock.advance(timedelta(seconds=30))
    [last] = claim(sessions, clock)
    assert record(sessions, clock, last, Attempt("retry", "HTTP 503", clock.now())) == "failed"
    assert get(sessions, last.id).last_error == "HTTP 503 (gave up after 5 attempts)"


def test_a_row_canceled_while_sending_stays_canceled(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    add(sessions, bob, clock, "k")
    [item] = claim(sessions, clock)
    with sessions() as db:
        row = db.get(models.Notification, item.id)
        assert row is not None
        row.status = "canceled"
        db.commit()
    for result in (Attempt("ok"), Attempt("retry", "x", clock.now()), Attempt("permanent", "x")):
        assert record(sessions, clock, item, result) is None
    assert get(sessions, item.id).status == "canceled"


def test_a_failed_page_falls_to_the_next_contact_method_and_says_so(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    add(sessions, bob, clock, "esc-1/bob")
    [item] = claim(sessions, clock)
    assert record(sessions, clock, item, Attempt("permanent", "HTTP 404 (Unknown Webhook)")) == "failed"
    with sessions() as db:
        [fallback] = db.scalars(
            select(models.Notification).where(
                models.Notification.idempotency_key == f"esc-1/bob/next-{bob.methods['mail']}"
            )
        )
        assert (fallback.status, fallback.channel, fallback.kind) == ("pending", "email", "page")
        assert (fallback.incident_id, fallback.user_id, fallback.due_at) == (bob.incident_id, bob.user_id, clock.now())
        summaries = [e.summary for e in db.scalars(select(models.TimelineEntry))]
    assert "Page to bob via discord failed: HTTP 404 (Unknown Webhook); trying e-mail" in summaries

    # The last method has nobody after it.
    [again] = claim(sessions, clock)
    record(sessions, clock, again, Attempt("permanent", "550 no such user"))
    with sessions() as db:
        summaries = [e.summary for e in db.scalars(select(models.TimelineEntry))]
        assert db.scalar(select(models.Notification.id).where(models.Notification.status == "pending")) is None
    assert "Page to bob via e-mail failed: 550 no such user; no other contact method to try" in summaries


def test_no_fall_back_once_the_incident_is_acknowledged(
    sessions: sessionmaker[Session], bob: Bob, personas: Personas, clock: FrozenClock
) -> None:
    add(sessions, bob, clock, "k")
    [item] = claim(sessions, clock)
    with sessions() as db:
        incident = incidents.get(db, str(bob.incident_id))
        incidents.change_status(db, personas.bob.actor, clock.now(), incident, "acknowledged")
        db.commit()
    record(sessions, clock, item, Attempt("permanent", "HTTP 404"))
    with sessions() as db:
        assert db.scalars(select(models.Notification)).all()[0].status == "failed"
        assert len(db.scalars(select(models.Notification)).all()) == 1


def test_send_test_makes_one_due_test_notification_per_contact_method(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with sessions() as db:
        user = db.get(models.User, bob.user_id)
        assert user is not None
        made = notifications.send_test(db, user, clock.now())
        db.commit()
        assert sorted(n.channel for n in made) == ["discord", "email"]
        assert {(n.kind, n.status, n.due_at, n.incident_id) for n in made} == {("test", "pending", clock.now(), None)}
    assert len(claim(sessions, clock)) == 2


def test_a_delivered_test_verifies_its_contact_method_and_a_page_does_not(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    """Escalations page verified methods only; `tocsin notify test` is how one gets verified."""
    page = add(sessions, bob, clock, "page-1", method="discord")
    test = add(sessions, bob, clock, "test-1", method="mail", kind="test")
    failed_test = add(sessions, bob, clock, "test-2", method="discord", kind="test")
    claimed = {item.id: item for item in claim(sessions, clock)}
    assert record(sessions, clock, claimed[page], Attempt("ok")) == "sent"
    assert record(sessions, clock, claimed[test], Attempt("ok")) == "sent"
    record(sessions, clock, claimed[failed_test], Attempt("permanent", "404 Unknown Webhook"))
    with sessions() as db:
        verified = {m.name: m.verified for m in db.scalars(select(models.ContactMethod))}
    assert verified == {"discord": False, "mail": True}


# ---- destinations: team channels and signing secrets ----------------------------------------


def test_a_claim_reads_a_team_channels_address_role_and_secret(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with sessions() as db:
        channel = models.Channel(
            name="alerts",
            kind="webhook",
            address="https://hooks.example.com/alerts",
            mention="&1081234567890123456",
            signing_secret="whsec-team-channel-0123456789",
            managed=False,
            created_at=clock.now(),
        )
        db.add(channel)
        db.flush()
        for key, payload in (
            ("loud", {"title": "Declared", "mention": True}),
            ("quiet", {"title": "Deployed", "mention": False}),
        ):
            db.add(
                models.Notification(
                    idempotency_key=key,
                    channel_id=channel.id,
                    kind="post",
                    channel="webhook",
                    status="pending",
                    due_at=clock.now(),
                    attempts=0,
                    last_error="",
                    payload=payload,
                    created_at=clock.now(),
                )
            )
        db.commit()
    loud, quiet = claim(sessions, clock)
    assert (loud.channel, loud.address, loud.secret) == (
        "webhook",
        "https://hooks.example.com/alerts",
        "whsec-team-channel-0123456789",
    )
    assert (loud.mention, quiet.mention) == ("&1081234567890123456", None)


def test_only_a_webhook_methods_secret_travels_with_the_claim(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with sessions() as db:
        for method in db.scalars(select(models.ContactMethod)):
            method.signing_secret = "whsec-not-for-discord-0123"  # set behind the service's back
        db.commit()
    add(sessions, bob, clock, "k")
    [item] = claim(sessions, clock)
    assert (item.channel, item.secret) == ("discord", None)


# ---- recording a batch -----------------------------------------------------------------------


def test_a_batch_of_results_is_recorded_together_and_rows_no_longer_ours_are_left_alone(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    for key in ("ok", "retry", "permanent", "unsent", "canceled"):
        add(sessions, bob, clock, key, kind="test")
    items = {item.idempotency_key: item for item in claim(sessions, clock)}
    with sessions() as db:
        row = db.get(models.Notification, items["canceled"].id)
        assert row is not None
        row.status = "canceled"
        db.commit()
    later = clock.now() + timedelta(seconds=40)
    results = {
        "ok": Attempt("ok"),
        "retry": Attempt("retry", "HTTP 503", later),
        "permanent": Attempt("permanent", "HTTP 404"),
        "unsent": Attempt("unsent"),
        "canceled": Attempt("ok"),
    }
    with sessions() as db, db.begin():
        statuses = notifications.record_all(
            db, clock.now(), [(items[k].id, items[k].attempts, result) for k, result in results.items()]
        )
    assert statuses == ["sent", "pending", "failed", "pending", None]
    rows = {k: get(sessions, items[k].id) for k in results}
    assert (rows["ok"].status, rows["ok"].sent_at) == ("sent", clock.now())
    assert (rows["retry"].status, rows["retry"].due_at, rows["retry"].last_error) == ("pending", later, "HTTP 503")
    assert (rows["permanent"].status, rows["permanent"].last_error) == ("failed", "HTTP 404")
    # Never attempted: as it was before the claim, due at once, the attempt not counted.
    unsent = rows["unsent"]
    assert (unsent.status, unsent.attempts, unsent.deadline, unsent.due_at) == ("pending", 0, None, clock.now())
    assert rows["canceled"].status == "canceled"


def test_a_batchs_results_take_the_same_few_statements_whatever_its_size(
    engine: Engine, sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    def statements_to_record(count: int) -> int:
        for n in range(count):
            add(sessions, bob, clock, f"size-{count}-{n}")
        claimed = claim(sessions, clock, batch=100)
        outcomes = [Attempt("ok"), Attempt("retry", "HTTP 503", clock.now() + timedelta(minutes=1))]
        executed: list[str] = []

        def count_statement(*args: Any) -> None:
            executed.append(args[2])

        event.listen(engine, "before_cursor_execute", count_statement)
        try:
            with sessions() as db, db.begin():
                notifications.record_all(
                    db, clock.now(), [(c.id, c.attempts, outcomes[n % 2]) for n, c in enumerate(claimed)]
                )
        finally:
            event.remove(engine, "before_cursor_execute", count_statement)
        return len(executed)

    assert statements_to_record(4) == statements_to_record(40)


def test_a_verification_codes_row_forgets_the_code_once_sent(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with sessions() as db:
        user = db.get(models.User, bob.user_id)
        method = db.get(models.ContactMethod, bob.methods["discord"])
        assert user is not None
        assert method is not None
        first = notifications.send_verification_code(db, user, method, "111111", clock.now(), timedelta(minutes=15))
        second = notifications.send_verification_code(db, user, method, "222222", clock.now(), timedelta(minutes=15))
        db.commit()
        assert "222222" in second.payload["title"]
    # A newer code supersedes one not sent yet: it would only confuse.
    superseded = get(sessions, first.id)
    assert (superseded.status, superseded.payload) == ("canceled", notifications.SPENT_CODE)
    [item] = claim(sessions, clock)
    assert (item.id, item.kind) == (second.id, "verify")
    assert record(sessions, clock, item, Attempt("ok")) == "sent"
    sent = get(sessions, second.id)
    assert "222222" not in str(sent.payload)
    with sessions() as db:
        # Unlike a test notification, a delivered code verifies nothing by itself.
        assert db.get(models.ContactMethod, bob.methods["discord"]).verified is False  # type: ignore[union-attr]


def test_a_failed_post_has_no_next_contact_method_and_is_noted_on_its_incident(
    sessions: sessionmaker[Session], bob: Bob, clock: FrozenClock
) -> None:
    with sessions() as db:
        channel = models.Channel(
            name="alerts", kind="slack", address="https://hooks.slack.com/services/T/B/x", managed=False,
            created_at=clock.now(),
        )  # fmt: skip
        db.add(channel)
        db.flush()
        incident = db.get(models.Incident, bob.incident_id)
        assert incident is not None
        db.add(
            models.Notification(
                idempotency_key="post:1:timeline:1",
                channel_id=channel.id,
                kind="post",
                channel="slack",
                status="pending",
                due_at=clock.now(),
                attempts=0,
                last_error="",
                payload={"title": "Checkout is down", "incident": incident.human_id},
                created_at=clock.now(),
            )
        )
        db.commit()
    [item] = claim(sessions, clock)
    assert record(sessions, clock, item, Attempt("permanent", "HTTP 404 (no_service)")) == "failed"
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(models.Notification)) == 1
        [entry] = db.scalars(
            select(models.TimelineEntry).where(
                models.TimelineEntry.incident_id == bob.incident_id, models.TimelineEntry.kind == "note"
            )
        )
    assert entry.summary == "Post to the alerts channel via slack failed: HTTP 404 (no_service)"
    assert entry.data["team_channel"] == "alerts"
