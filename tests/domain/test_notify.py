from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tocsin.domain.notify import (
    ContactKind,
    ContactMethod,
    Decision,
    Delivery,
    NotificationRule,
    Outcome,
    QuietHours,
    ReadinessWarning,
    RuleUrgency,
    Urgency,
    deliveries,
    emergency,
    readiness,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

# Alice's phone and chat: Slack at once, e-mail after 2 min, SMS after 5 min (high urgency only).
SLACK = ContactMethod("slack", ContactKind.SLACK, "https://hooks.slack.test/T1/B1/x", verified=True, mention="U123")
EMAIL = ContactMethod("work", ContactKind.EMAIL, "alice@example.test", verified=True)
SMS = ContactMethod("phone", ContactKind.SMS, "+4915100000000", verified=True, high_urgency=True)
METHODS = (SLACK, EMAIL, SMS)
RULES = (
    NotificationRule("slack"),
    NotificationRule("work", timedelta(minutes=2)),
    NotificationRule("phone", timedelta(minutes=5), RuleUrgency.HIGH),
)
NIGHTS = QuietHours(time(22, 0), time(7, 0))


def local(
    tz: tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=tz, fold=fold)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def page(
    at: datetime,
    *,
    quiet: QuietHours | None = NIGHTS,
    tz: tzinfo = BERLIN,
    urgency: Urgency = Urgency.HIGH,
    emergency: bool = False,
    rules: tuple[NotificationRule, ...] = RULES,
    methods: tuple[ContactMethod, ...] = METHODS,
) -> Decision:
    return deliveries(rules, methods, at, urgency, emergency=emergency, quiet=quiet, tz=tz)


def held(at: datetime, quiet: QuietHours = NIGHTS, tz: tzinfo = BERLIN) -> bool:
    outcome = page(at, quiet=quiet, tz=tz).outcome
    assert outcome in (Outcome.PAGE, Outcome.HELD_BY_QUIET_HOURS)
    return outcome == Outcome.HELD_BY_QUIET_HOURS


# --- notification rules ----------------------------------------------------------------------------------------


def test_a_high_urgency_page_follows_every_rule_at_its_delay() -> None:
    at = local(BERLIN, 2027, 3, 3, 14, 0)
    decision = page(at)
    assert decision.outcome == Outcome.PAGE
    assert decision.deliveries == (
        Delivery(SLACK, at.astimezone(UTC)),
        Delivery(EMAIL, at.astimezone(UTC) + timedelta(minutes=2)),
        Delivery(SMS, at.astimezone(UTC) + timedelta(minutes=5)),
    )
    assert decision.skipped == ()
    assert not decision.quiet_hours_ignored


def test_a_low_urgency_page_skips_the_high_urgency_only_rule() -> None:
    decision = page(local(BERLIN, 2027, 3, 3, 14, 0), urgency=Urgency.LOW)
    assert [d.method for d in decision.deliveries] == [SLACK, EMAIL]


def test_deliveries_come_in_due_order_whatever_the_rule_order() -> None:
    rules = (NotificationRule("phone", timedelta(minutes=5)), NotificationRule("slack"), NotificationRule("work"))
    decision = page(local(BERLIN, 2027, 3, 3, 14, 0), rules=rules)
    assert [d.method for d in decision.deliveries] == [SLACK, EMAIL, SMS]


def test_unverified_and_missing_methods_are_skipped_with_the_reason() -> None:
    unverified = ContactMethod("phone", ContactKind.SMS, "+4915100000000", high_urgency=True)
    rules = (*RULES, NotificationRule("pager"))
    decision = page(local(BERLIN, 2027, 3, 3, 14, 0), rules=rules, methods=(SLACK, EMAIL, unverified))
    assert [d.method for d in decision.deliveries] == [SLACK, EMAIL]
    assert decision.skipped == ("sms contact method 'phone' is not verified", "no contact method 'pager'")


def test_a_user_without_a_usable_rule_is_unreachable_so_the_escalation_moves_on() -> None:
    decision = page(local(BERLIN, 2027, 3, 3, 14, 0), urgency=Urgency.LOW, rules=(RULES[2],))
    assert decision == Decision(Outcome.UNREACHABLE)


# --- quiet hours -----------------------------------------------------------------------------------------------


def test_quiet_hours_crossing_midnight_hold_from_start_up_to_but_not_including_end() -> None:
    assert not held(local(BERLIN, 2027, 3, 3, 21, 59, 59))
    assert held(local(BERLIN, 2027, 3, 3, 22, 0))
    assert held(local(BERLIN, 2027, 3, 3, 23, 59, 59))
    assert held(local(BERLIN, 2027, 3, 4, 0, 0))
    assert held(local(BERLIN, 2027, 3, 4, 6, 59, 59))
    assert not held(local(BERLIN, 2027, 3, 4, 7, 0))


def test_a_held_page_says_until_when() -> None:
    decision = page(local(BERLIN, 2027, 3, 3, 23, 30))
    assert decision == Decision(Outcome.HELD_BY_QUIET_HOURS, held_until=local(BERLIN, 2027, 3, 4, 7, 0))
    assert decision.held_until is not None
    assert decision.held_until.tzinfo is UTC


def test_quiet_hours_within_one_day() -> None:
    lunch = QuietHours(time(12, 0), time(13, 30))
    assert not held(local(BERLIN, 2027, 3, 3, 11, 59), lunch)
    assert held(local(BERLIN, 2027, 3, 3, 12, 0), lunch)
    assert held(local(BERLIN, 2027, 3, 3, 13, 29), lunch)
    assert not held(local(BERLIN, 2027, 3, 3, 13, 30), lunch)
    assert not held(local(BERLIN, 2027, 3, 3, 23, 0), lunch)


def test_quiet_hours_are_read_on_the_users_wall_clock() -> None:
    # 23:00 in Berlin is 17:00 in New York.
    instant = local(BERLIN, 2027, 3, 3, 23, 0)
    assert held(instant, tz=BERLIN)
    assert not held(instant, tz=NEW_YORK)


def test_weekday_limited_quiet_hours_belong_to_the_night_they_open_on() -> None:
    school_nights = QuietHours(time(22, 0), time(7, 0), weekdays=frozenset({0, 1, 2, 3}))  # Mon-Thu
    # 2027-03-01 is a Monday.
    assert held(local(BERLIN, 2027, 3, 4, 23, 0), school_nights)  # Thursday night
    assert held(local(BERLIN, 2027, 3, 5, 3, 0), school_nights)  # ... still, on Friday morning
    assert not held(local(BERLIN, 2027, 3, 5, 23, 0), school_nights)  # Friday night
    assert not held(local(BERLIN, 2027, 3, 6, 3, 0), school_nights)  # Saturday morning
    assert not held(local(BERLIN, 2027, 3, 7, 23, 0), school_nights)  # Sunday night
    assert not held(local(BERLIN, 2027, 3, 8, 3, 0), school_nights)  # Monday morning, after Sunday night
    assert held(local(BERLIN, 2027, 3, 8, 23, 0), school_nights)  # Monday night


def test_quiet_hours_are_decided_at_the_instant_of_the_page_only() -> None:
    # 21:58: not yet quiet, so the SMS at 22:03 goes out too rather than half-paging Alice.
    at = local(BERLIN, 2027, 3, 3, 21, 58)
    decision = page(at)
    assert decision.outcome == Outcome.PAGE
    assert decision.deliveries[-1] == Delivery(SMS, at.astimezone(UTC) + timedelta(minutes=5))


def test_an_emergency_pages_through_quiet_hours_and_says_so() -> None:
    at = local(BERLIN, 2027, 3, 4, 3, 0)
    decision = page(at, emergency=True)
    assert decision.outcome == Outcome.PAGE
    assert [d.method for d in decision.deliveries] == [SLACK, EMAIL, SMS]
    assert decision.quiet_hours_ignored
    assert not page(local(BERLIN, 2027, 3, 4, 12, 0), emergency=True).quiet_hours_ignored


def test_a_page_is_an_emergency_when_its_severity_or_any_of_its_services_is() -> None:
    assert emergency("P0", True, []) == "P0 is an emergency severity"
    assert emergency("P3", False, ["payments"]) == "service payments is an emergency service"
    assert emergency("P3", False, ["payments", "auth"]) == "services auth, payments are emergency services"
    assert emergency("P1", False, []) is None


def test_an_emergency_low_urgency_page_still_follows_the_urgency_of_the_rules() -> None:
    decision = page(local(BERLIN, 2027, 3, 4, 3, 0), emergency=True, urgency=Urgency.LOW)
    assert [d.method for d in decision.deliveries] == [SLACK, EMAIL]


# Europe/Berlin 2027-03-28: 02:00 CET jumps to 03:00 CEST (01:00 UTC).


def test_a_night_across_spring_forward_ends_at_seven_local_and_is_an_hour_shorter() -> None:
    assert held(local(BERLIN, 2027, 3, 28, 6, 59))
    assert not held(local(BERLIN, 2027, 3, 28, 7, 0))
    decision = page(local(BERLIN, 2027, 3, 27, 22, 0))
    assert decision.held_until == utc(2027, 3, 28, 5, 0)  # 07:00 CEST
    assert decision.held_until - utc(2027, 3, 27, 21, 0) == timedelta(hours=8)


def test_a_window_ending_in_the_skipped_hour_ends_at_the_jump() -> None:
    until_half_two = QuietHours(time(23, 0), time(2, 30))
    assert held(utc(2027, 3, 28, 0, 59, 59), until_half_two)  # 01:59:59 CET
    assert not held(utc(2027, 3, 28, 1, 0), until_half_two)  # 03:00 CEST
    assert page(utc(2027, 3, 28, 0, 30), quiet=until_half_two).held_until == utc(2027, 3, 28, 1, 0)


def test_a_window_opening_in_the_skipped_hour_opens_at_the_jump() -> None:
    early = QuietHours(time(2, 30), time(6, 0))
    assert not held(utc(2027, 3, 28, 0, 59, 59), early)  # 01:59:59 CET
    assert held(utc(2027, 3, 28, 1, 0), early)  # 03:00 CEST
    assert held(local(BERLIN, 2027, 3, 28, 5, 59), early)
    assert not held(local(BERLIN, 2027, 3, 28, 6, 0), early)


def test_a_window_wholly_inside_the_skipped_hour_does_not_happen_that_night() -> None:
    inside = QuietHours(time(2, 10), time(2, 50))
    that_night = [utc(2027, 3, 27, 23, 0) + timedelta(minutes=m) for m in range(0, 240)]
    assert not any(held(instant, inside) for instant in that_night)
    assert held(local(BERLIN, 2027, 3, 29, 2, 10), inside)


# America/New_York 2027-11-07: 02:00 EDT falls back to 01:00 EST; 01:00-01:59 happens twice.


def test_a_night_across_fall_back_ends_at_seven_local_and_is_an_hour_longer() -> None:
    assert held(local(NEW_YORK, 2027, 11, 7, 6, 59), tz=NEW_YORK)
    assert not held(local(NEW_YORK, 2027, 11, 7, 7, 0), tz=NEW_YORK)
    decision = page(local(NEW_YORK, 2027, 11, 6, 22, 0), tz=NEW_YORK)
    assert decision.held_until == utc(2027, 11, 7, 12, 0)
    assert decision.held_until - utc(2027, 11, 7, 2, 0) == timedelta(hours=10)


def test_a_window_ending_in_the_repeated_hour_ends_at_its_first_occurrence_and_does_not_reopen() -> None:
    until_half_one = QuietHours(time(22, 0), time(1, 30))
    assert held(local(NEW_YORK, 2027, 11, 7, 1, 15, fold=0), until_half_one, NEW_YORK)  # 05:15 UTC, EDT
    assert not held(local(NEW_YORK, 2027, 11, 7, 1, 30, fold=0), until_half_one, NEW_YORK)  # 05:30 UTC
    assert not held(local(NEW_YORK, 2027, 11, 7, 1, 15, fold=1), until_half_one, NEW_YORK)  # 06:15 UTC, EST


def test_a_window_opening_in_the_repeated_hour_opens_at_its_first_occurrence_and_stays_shut() -> None:
    from_half_one = QuietHours(time(1, 30), time(6, 0))
    assert not held(local(NEW_YORK, 2027, 11, 7, 1, 29, fold=0), from_half_one, NEW_YORK)
    assert held(local(NEW_YORK, 2027, 11, 7, 1, 30, fold=0), from_half_one, NEW_YORK)  # 05:30 UTC
    assert held(local(NEW_YORK, 2027, 11, 7, 1, 15, fold=1), from_half_one, NEW_YORK)  # 06:15 UTC, the hour again
    decision = page(utc(2027, 11, 7, 6, 15), quiet=from_half_one, tz=NEW_YORK)
    assert decision.held_until == utc(2027, 11, 7, 11, 0)  # 06:00 EST


TRANSITION_DAYS = {
    BERLIN: (date(2027, 3, 28), date(2027, 10, 31)),
    NEW_YORK: (date(2027, 3, 14), date(2027, 11, 7)),
}


@given(
    st.sampled_from([BERLIN, NEW_YORK]),
    st.times(),
    st.times(),
    st.none() | st.frozensets(st.integers(min_value=0, max_value=6), min_size=1),
    st.datetimes(min_value=datetime(2027, 1, 2), max_value=datetime(2027, 12, 30)),
)
def test_away_from_dst_changes_quiet_hours_are_a_plain_wall_clock_window(
    tz: ZoneInfo, start: time, end: time, weekdays: frozenset[int] | None, wall: datetime
) -> None:
    assume(start != end)
    assume(all(abs((wall.date() - day).days) > 1 for day in TRANSITION_DAYS[tz]))
    quiet = QuietHours(start, end, weekdays)
    clock = wall.time()
    if start < end:
        opened_on, inside = wall.date(), start <= clock < end
    else:
        inside = clock >= start or clock < end
        opened_on = wall.date() if clock >= start else wall.date() - timedelta(days=1)
    expected = inside and (weekdays is None or opened_on.weekday() in weekdays)
    assert quiet.holds(wall.replace(tzinfo=tz), tz) == expected


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: QuietHours(time(22, 0), time(22, 0)), r"end: must differ from start \(22:00\)"),
        (lambda: QuietHours(time(22, 0), time(7, 0), frozenset()), "weekdays: leave out for every day"),
        (lambda: QuietHours(time(22, 0), time(7, 0), frozenset({1, 7})), r"weekdays: \[7\] are not weekdays"),
        (lambda: QuietHours(time(22, 0, tzinfo=UTC), time(7, 0)), "start: a wall-clock time, without a time zone"),
        (lambda: ContactMethod("x", "pager", "123"), "kind: unknown contact method kind 'pager'"),  # type: ignore[arg-type]
        (lambda: ContactMethod("", ContactKind.EMAIL, "a@b.test"), "key: a contact method needs a key"),
        (lambda: ContactMethod("x", ContactKind.SMS, " "), "address: a sms contact method needs an address"),
        (
            lambda: ContactMethod("x", ContactKind.EMAIL, "a@b.test", mention="U1"),
            "mention: only Discord and Slack mention a user, not email",
        ),
        (lambda: NotificationRule("x", timedelta(minutes=-2)), "delay: must not be negative"),
        (lambda: NotificationRule("x", urgency="urgent"), "urgency: unknown urgency 'urgent'"),  # type: ignore[arg-type]
    ],
)
def test_invalid_settings_are_refused_naming_the_field(make: object, message: str) -> None:
    assert callable(make)
    with pytest.raises(ValueError, match=f"^{message}"):
        make()


def test_kinds_given_as_text_become_the_enum() -> None:
    method = ContactMethod("x", "discord", "https://discord.test/api/webhooks/1/x")  # type: ignore[arg-type]
    assert method.kind is ContactKind.DISCORD
    assert NotificationRule("x", urgency="low").urgency is RuleUrgency.LOW  # type: ignore[arg-type]


def test_a_naive_page_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="page_at: needs a timezone-aware datetime"):
        page(datetime(2027, 3, 3, 14, 0))


# --- readiness -------------------------------------------------------------------------------------------------

NOW = local(BERLIN, 2027, 3, 22, 12, 0)  # a Monday


def span(start: datetime, hours: int) -> tuple[datetime, datetime]:
    return start, start + timedelta(hours=hours)


def test_bob_on_call_tomorrow_morning_without_a_verified_phone_gets_a_warning() -> None:
    bob_sms = ContactMethod("phone", ContactKind.SMS, "+12125550100", high_urgency=True)  # not verified
    bob_email = ContactMethod("work", ContactKind.EMAIL, "bob@example.test", verified=True)  # cannot wake him
    on_call = [("alice", span(NOW - timedelta(hours=3), 24)), ("bob", span(local(BERLIN, 2027, 3, 23, 9, 0), 24))]
    warnings = readiness(on_call, {"alice": METHODS, "bob": (bob_sms, bob_email)}, NOW, tz=BERLIN)
    assert warnings == [
        ReadinessWarning(
            "bob",
            utc(2027, 3, 23, 8, 0),
            "bob is on call from Tue 09:00 and has no verified high-urgency contact method",
        )
    ]


def test_someone_on_call_right_now_is_warned_about_as_now() -> None:
    warnings = readiness([("charlie", span(NOW - timedelta(hours=1), 8))], {}, NOW, tz=BERLIN)
    assert [w.message for w in warnings] == ["charlie is on call now and has no verified high-urgency contact method"]


def test_readiness_looks_only_at_the_next_24_hours_and_warns_once_per_user() -> None:
    on_call = [
        ("dave", span(NOW - timedelta(hours=10), 10)),  # ended at now
        ("erin", span(NOW + timedelta(hours=24), 8)),  # starts at the horizon
        ("bob", span(NOW + timedelta(hours=20), 8)),
        ("bob", span(NOW + timedelta(hours=2), 4)),
        ("charlie", span(NOW + timedelta(hours=2), 4)),
    ]
    warnings = readiness(on_call, {}, NOW, tz=BERLIN)
    assert [(w.user, w.message.split(" and ")[0]) for w in warnings] == [
        ("bob", "bob is on call from Mon 14:00"),
        ("charlie", "charlie is on call from Mon 14:00"),
    ]


def test_times_in_warnings_are_shown_in_the_zone_asked_for() -> None:
    warnings = readiness([("bob", span(local(BERLIN, 2027, 3, 23, 9, 0), 8))], {}, NOW, tz=NEW_YORK)
    assert warnings[0].message.startswith("bob is on call from Tue 04:00 ")
