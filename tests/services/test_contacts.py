from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain import notify
from tocsin.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tocsin.services import contacts, schedules
from tocsin.storage.models import AuditEvent, Notification

ALICE, BOB = "alice@example.com", "bob@example.com"
HOOK = "https://discord.com/api/webhooks/123/s3cret"


def on_call_rotation(session: Session, personas: Personas, clock: FrozenClock) -> None:
    """Alice this week, Bob from 10:00 today for a day (an override), Alice again after."""
    layer = schedules.LayerSpec("weekly", [ALICE], datetime(2026, 11, 23, 9, 0))
    schedules.create_schedule(session, personas.alice.actor, clock.now(), key="primary", layers=[layer])
    start = clock.now() + timedelta(hours=1)
    schedules.add_override(
        session, personas.alice.actor, clock.now(), "primary", user=BOB, start=start, end=start + timedelta(days=1)
    )
    session.commit()


def test_readiness_warns_about_someone_on_call_without_a_verified_high_urgency_method(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    on_call_rotation(session, personas, clock)
    actor = personas.alice.actor
    contacts.add_contact_method(session, actor, clock.now(), ALICE, name="phone", kind="sms", address="+4915112345678")
    contacts.add_contact_method(
        session, actor, clock.now(), BOB, name="discord", kind="discord", address=HOOK, verified=True
    )
    session.commit()
    warnings = contacts.readiness(session, clock.now())
    assert [(w.user, w.name, w.on_call_from, w.schedules) for w in warnings] == [
        (ALICE, "Alice Admin", clock.now(), ("primary",)),
        (BOB, "Bob Responder", clock.now() + timedelta(hours=1), ("primary",)),
    ]
    assert warnings[0].message == f"{ALICE} is on call now and has no verified high-urgency contact method"
    assert warnings[1].message == f"{BOB} is on call from Mon 10:00 and has no verified high-urgency contact method"

    contacts.remove_contact_method(session, actor, clock.now(), ALICE, "phone")
    contacts.add_contact_method(
        session, actor, clock.now(), ALICE, name="phone", kind="sms", address="+4915112345678",
        verified=True, high_urgency=True,
    )  # fmt: skip
    session.commit()
    assert [w.user for w in contacts.readiness(session, clock.now())] == [BOB]


def test_rules_point_at_methods_and_go_with_them(session: Session, personas: Personas, clock: FrozenClock) -> None:
    actor = personas.bob.actor
    contacts.add_contact_method(session, actor, clock.now(), BOB, name="slack", kind="slack", address=HOOK)
    contacts.add_contact_method(session, actor, clock.now(), BOB, name="mail", kind="email", address=BOB, verified=True)
    contacts.add_rule(session, actor, clock.now(), BOB, contact_method="mail", delay_s=120, urgency="high")
    contacts.add_rule(session, actor, clock.now(), BOB, contact_method="slack")
    session.commit()
    rules = contacts.list_rules(session, BOB)
    assert [(r.contact_method.name, r.delay_s, r.urgency) for r in rules] == [
        ("slack", 0, "both"),
        ("mail", 120, "high"),
    ]
    decision = notify.deliveries(
        [contacts.rule_to_domain(r) for r in rules],
        [contacts.method_to_domain(m) for m in contacts.list_contact_methods(session, BOB)],
        clock.now(),
        notify.Urgency.HIGH,
        emergency=False,
        quiet=None,
        tz=UTC,
    )
    assert [(d.method.key, d.due_at) for d in decision.deliveries] == [("mail", clock.now() + timedelta(minutes=2))]
    assert decision.skipped == ("slack contact method 'slack' is not verified",)

    contacts.remove_contact_method(session, actor, clock.now(), BOB, "mail")
    session.commit()
    assert [r.contact_method.name for r in contacts.list_rules(session, BOB)] == ["slack"]
    with pytest.raises(NotFound):
        contacts.remove_rule(session, actor, clock.now(), BOB, 9999)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "pigeon"}, "kind"),
        ({"address": " "}, "address"),
        ({"kind": "email", "address": "not-an-address"}, "address"),
        ({"kind": "sms", "address": "0151 1234"}, "address"),
        ({"kind": "webhook", "address": "ftp://example.com/x"}, "address"),
        ({"kind": "email", "address": "bob@example.com", "mention": "U123"}, "mention"),
        ({"name": "Bad Name"}, "name"),
    ],
)
def test_a_bad_contact_method_is_refused_naming_the_field(
    session: Session, personas: Personas, clock: FrozenClock, changes: dict[str, str], field: str
) -> None:
    options = {"name": "hook", "kind": "discord", "address": HOOK, **changes}
    with pytest.raises(ValidationFailed) as refused:
        contacts.add_contact_method(session, personas.bob.actor, clock.now(), BOB, **options)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_names_are_unique_per_user_and_the_audit_log_never_holds_an_address(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    actor = personas.bob.actor
    contacts.add_contact_method(session, actor, clock.now(), BOB, name="hook", kind="webhook", address=HOOK)
    contacts.add_contact_method(session, actor, clock.now(), ALICE, name="hook", kind="webhook", address=HOOK)
    with pytest.raises(Conflict) as twice:
        contacts.add_contact_method(session, actor, clock.now(), BOB, name="hook", kind="webhook", address=HOOK)
    assert twice.value.field == "name"
    details = session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "add_contact_method")).all()
    assert details == [{"name": "hook", "kind": "webhook"}] * 2
    assert "s3cret" not in repr(details)


def test_masked_addresses_show_where_not_how() -> None:
    assert contacts.masked("discord", HOOK) == "https://discord.com/…"
    assert contacts.masked("webhook", "http://user:pw@hooks.internal:8080/x?token=1") == "http://hooks.internal:8080/…"
    assert contacts.masked("apprise", "tgram://bottoken/chatid") == "tgram://…"
    assert contacts.masked("email", "alice@example.com") == "a…@example.com"
    assert contacts.masked("sms", "+4915112345678") == "…5678"


def test_quiet_hours_are_set_replaced_and_cleared(session: Session, personas: Personas, clock: FrozenClock) -> None:
    actor = personas.bob.actor
    contacts.set_quiet_hours(session, actor, clock.now(), BOB, start="22:00", end="07:00", weekdays=["mon", "tue"])
    quiet = contacts.set_quiet_hours(session, actor, clock.now(), BOB, start="23:00", end="06:00")
    session.commit()
    assert (quiet.start, quiet.end, quiet.weekdays) == ("23:00", "06:00", None)
    rule = contacts.quiet_to_domain(contacts.get_quiet_hours(session, BOB))
    assert rule.holds(datetime(2026, 11, 24, 2, 0, tzinfo=UTC), UTC)
    for start, end, weekdays, field in (
        ("22:00", "22:00", None, "end"),
        ("25:00", "07:00", None, "start"),
        ("22:00", "07:00", ["someday"], "weekdays"),
        ("22:00", "07:00", [], "weekdays"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            contacts.set_quiet_hours(session, actor, clock.now(), BOB, start=start, end=end, weekdays=weekdays)
        assert refused.value.field == field
    contacts.clear_quiet_hours(session, actor, clock.now(), BOB)
    session.commit()
    with pytest.raises(NotFound):
        contacts.get_quiet_hours(session, BOB)


# ---- signing secrets -------------------------------------------------------------------------

SECRET = "whsec-correct-horse-battery-staple"
RECEIVER = "https://hooks.example.com/tocsin"


def test_a_webhook_method_takes_a_signing_secret_and_the_audit_log_only_says_so(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    actor = personas.bob.actor
    method = contacts.add_contact_method(
        session, actor, clock.now(), BOB, name="hook", kind="webhook", address=RECEIVER, signing_secret=SECRET
    )
    assert method.signing_secret == SECRET
    rotated = "whsec-rotated-0123456789abcdef"
    contacts.set_signing_secret(session, actor, clock.now(), BOB, "hook", rotated)
    assert method.signing_secret == rotated
    contacts.set_signing_secret(session, actor, clock.now(), BOB, "hook", None)
    assert method.signing_secret is None
    session.commit()
    details = session.scalars(select(AuditEvent.detail).order_by(AuditEvent.id)).all()
    assert {"name": "hook", "kind": "webhook", "signed": True} in details
    assert [d for d in details if "signed" in d and "kind" not in d] == [
        {"name": "hook", "signed": True},
        {"name": "hook", "signed": False},
    ]
    assert "horse" not in repr(details)
    assert "rotated" not in repr(details)


@pytest.mark.parametrize(
    ("kind", "address", "secret", "message"),
    [
        ("discord", HOOK, SECRET, "only webhook contact methods sign their messages, not discord"),
        ("webhook", RECEIVER, "short-secret", "a signing secret is 16-256 printable ASCII characters without spaces"),
        ("webhook", RECEIVER, "has spaces in the middle", "a signing secret is 16-256 printable ASCII"),
    ],
)
def test_a_signing_secret_is_refused_without_being_quoted(
    session: Session, personas: Personas, clock: FrozenClock, kind: str, address: str, secret: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        contacts.add_contact_method(
            session,
            personas.bob.actor,
            clock.now(),
            BOB,
            name="hook",
            kind=kind,
            address=address,
            signing_secret=secret,
        )
    assert refused.value.field == "signing_secret"
    assert refused.value.message.startswith(message)
    assert secret not in refused.value.message


# ---- verification ----------------------------------------------------------------------------


def _code(verification: contacts.Verification) -> str:
    """The code as the method's owner receives it (here read from the notification's payload)."""
    return str(dict(verification.notification.payload["fields"])["Code"])


@pytest.fixture
def hook(session: Session, personas: Personas, clock: FrozenClock) -> None:
    contacts.add_contact_method(
        session, personas.bob.actor, clock.now(), BOB, name="hook", kind="webhook", address=RECEIVER
    )
    session.commit()


def test_the_code_sent_through_a_method_verifies_it(
    session: Session, personas: Personas, clock: FrozenClock, hook: None
) -> None:
    sent = contacts.start_verification(session, personas.bob.actor, clock.now(), BOB, "hook")
    session.commit()
    notification = sent.notification
    assert (notification.kind, notification.channel, notification.status, notification.due_at) == (
        "verify",
        "webhook",
        "pending",
        clock.now(),
    )
    assert sent.expires_at == clock.now() + timedelta(minutes=15)
    code = _code(sent)
    assert len(code) == 6
    assert code.isdigit()
    assert sent.method.verify_code_hash != code  # only its hash is kept

    clock.advance(timedelta(minutes=14))
    confirmed = contacts.confirm_verification(session, personas.bob.actor, clock.now(), BOB, "hook", f" {code} ")
    session.commit()
    assert confirmed.verified
    assert (confirmed.method.verified, confirmed.method.verify_code_hash, confirmed.method.verify_expires_at) == (
        True,
        None,
        None,
    )
    # Used once: the same code again finds nothing waiting.
    again = contacts.confirm_verification(session, personas.bob.actor, clock.now(), BOB, "hook", code)
    assert isinstance(again.problem, Conflict)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_wrong_codes_count_down_and_the_fifth_ends_the_code(
    session: Session, personas: Personas, clock: FrozenClock, hook: None
) -> None:
    sent = contacts.start_verification(session, personas.bob.actor, clock.now(), BOB, "hook")
    code = _code(sent)
    messages = []
    for _ in range(contacts.VERIFY_TRIES):
        result = contacts.confirm_verification(session, personas.bob.actor, clock.now(), BOB, "hook", _wrong(code))
        assert result.problem is not None
        messages.append(result.problem.message)
    assert messages[:4] == [
        "wrong code; 4 tries left",
        "wrong code; 3 tries left",
        "wrong code; 2 tries left",
        "wrong code; 1 try left",
    ]
    assert messages[4].startswith("that code was wrong 5 times and no longer works; ask for a new one")
    # Even the right code is too late now.
    late = contacts.confirm_verification(session, personas.bob.actor, clock.now(), BOB, "hook", code)
    assert isinstance(late.problem, Conflict)
    assert sent.method.verified is False


def test_a_code_expires_after_fifteen_minutes(
    session: Session, personas: Personas, clock: FrozenClock, hook: None
) -> None:
    sent = contacts.start_verification(session, personas.bob.actor, clock.now(), BOB, "hook")
    clock.advance(timedelta(minutes=15))
    expired = contacts.confirm_verification(session, personas.bob.actor, clock.now(), BOB, "hook", _code(sent))
    assert isinstance(expired.problem, Conflict)
    assert expired.problem.message.startswith("the code for 'hook' has expired")
    assert sent.method.verified is False


def test_a_new_code_waits_a_minute_and_replaces_the_old_one(
    session: Session, personas: Personas, clock: FrozenClock, hook: None
) -> None:
    first = contacts.start_verification(session, personas.bob.actor, clock.now(), BOB, "hook")
    clock.advance(timedelta(seconds=59))
    with pytest.raises(Conflict):
        contacts.start_verification(session, personas.bob.actor, clock.now(), BOB, "hook")
    clock.advance(timedelta(seconds=1))
    second = contacts.start_verification(session, personas.bob.actor, clock.now(), BOB, "hook")
    old, new = _code(first), _code(second)
    if old != new:  # one chance in a million that they are the same
        stale = contacts.confirm_verification(session, personas.bob.actor, clock.now(), BOB, "hook", old)
        assert isinstance(stale.problem, ValidationFailed)
    assert contacts.confirm_verification(session, personas.bob.actor, clock.now(), BOB, "hook", new).verified


def test_only_the_owner_or_an_admin_verifies_a_method(
    session: Session, personas: Personas, clock: FrozenClock, hook: None
) -> None:
    with pytest.raises(Forbidden):
        contacts.start_verification(session, personas.charlie.actor, clock.now(), BOB, "hook")
    sent = contacts.start_verification(session, personas.alice.actor, clock.now(), BOB, "hook")
    with pytest.raises(Forbidden):
        contacts.confirm_verification(session, personas.charlie.actor, clock.now(), BOB, "hook", _code(sent))
    with pytest.raises(ValidationFailed) as malformed:
        contacts.confirm_verification(session, personas.bob.actor, clock.now(), BOB, "hook", "12 34")
    assert malformed.value.field == "code"
    with pytest.raises(NotFound):
        contacts.start_verification(session, personas.bob.actor, clock.now(), BOB, "pager")


def test_a_removed_method_leaves_its_pages_on_record_without_it(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    actor = personas.alice.actor
    method = contacts.add_contact_method(
        session, actor, clock.now(), BOB, name="discord", kind="discord", address=HOOK, verified=True
    )
    session.flush()
    page = Notification(
        idempotency_key="page-1", user_id=method.user_id, contact_method_id=method.id, kind="page",
        channel="discord", status="sent", due_at=clock.now(), created_at=clock.now(),
    )  # fmt: skip
    session.add(page)
    session.commit()

    contacts.remove_contact_method(session, actor, clock.now(), BOB, "discord")
    session.commit()
    session.expire_all()
    kept = session.get(Notification, page.id)
    assert kept is not None
    assert (kept.contact_method_id, kept.user_id, kept.status) == (None, method.user_id, "sent")
