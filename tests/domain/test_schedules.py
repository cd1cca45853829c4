from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.domain.schedules import (
    EVERY_DAY,
    MIDNIGHT,
    WORKDAYS,
    Gap,
    Layer,
    OnCall,
    Override,
    Restriction,
    RotationKind,
    Schedule,
    Shift,
    Source,
    SourceKind,
    Weekday,
    final_schedule,
    gaps,
    handoffs,
    on_call_at,
    resolve_local,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = ("Europe/Berlin", "America/New_York", "America/Los_Angeles", "Australia/Sydney", "Asia/Kolkata", "UTC")
PEOPLE = ("alice", "bob", "carol", "dave")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=BERLIN)


def new_york(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK)


def one_layer(layer: Layer, *overrides: Override, time_zone: str = "Europe/Berlin") -> Schedule:
    return Schedule("ops", time_zone, (layer,), overrides)


def layer(
    participants: tuple[str, ...] = ("alice", "bob", "carol"),
    *,
    start: datetime,
    kind: RotationKind = RotationKind.WEEKLY,
    every: int = 1,
    time_zone: str = "Europe/Berlin",
    restrictions: tuple[Restriction, ...] = (),
    name: str = "primary",
) -> Layer:
    return Layer(name, participants, start, time_zone, kind, every, restrictions)


def handoff_instants(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    return [shift.start for shift in final_schedule(schedule, start, end)]


def users(shifts: list[Shift]) -> list[str]:
    return [shift.user for shift in shifts]


# --- worked DST cases: Europe/Berlin ------------------------------------------------------------


def test_a_daily_0230_handoff_happens_at_0300_on_the_berlin_spring_forward_night() -> None:
    daily = one_layer(layer(start=berlin(2027, 3, 26, 2, 30), kind=RotationKind.DAILY))

    shifts = final_schedule(daily, berlin(2027, 3, 26, 2, 30), berlin(2027, 3, 30, 2, 30))

    assert [(s.start, s.user) for s in shifts] == [
        (utc(2027, 3, 26, 1, 30), "alice"),  # 02:30 CET
        (utc(2027, 3, 27, 1, 30), "bob"),  # 02:30 CET
        (utc(2027, 3, 28, 1, 0), "carol"),  # 02:30 does not exist: 03:00 CEST
        (utc(2027, 3, 29, 0, 30), "alice"),  # 02:30 CEST
    ]
    assert shifts[2].start.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    assert [s.end - s.start for s in shifts] == [timedelta(hours=h) for h in (24, 23.5, 23.5, 24)]


def test_a_daily_0230_handoff_happens_at_the_first_0230_on_the_berlin_fall_back_night() -> None:
    daily = one_layer(layer(start=berlin(2027, 10, 29, 2, 30), kind=RotationKind.DAILY))

    shifts = final_schedule(daily, berlin(2027, 10, 29, 2, 30), berlin(2027, 11, 2, 2, 30))

    assert [s.start for s in shifts] == [
        utc(2027, 10, 29, 0, 30),
        utc(2027, 10, 30, 0, 30),
        utc(2027, 10, 31, 0, 30),  # 02:30 CEST, the first of the two 02:30s
        utc(2027, 11, 1, 1, 30),  # 02:30 CET
    ]
    assert shifts[2].start.astimezone(BERLIN).strftime("%H:%M %Z") == "02:30 CEST"
    assert [s.end - s.start for s in shifts] == [timedelta(hours=h) for h in (24, 24, 25, 24)]


def test_a_weekly_monday_0900_handoff_in_berlin_keeps_0900_across_both_changes() -> None:
    weekly = one_layer(layer(start=berlin(2027, 3, 22, 9), kind=RotationKind.WEEKLY))

    spring = final_schedule(weekly, berlin(2027, 3, 22, 9), berlin(2027, 4, 5, 9))
    assert [s.start for s in spring] == [utc(2027, 3, 22, 8), utc(2027, 3, 29, 7)]
    assert spring[0].end - spring[0].start == timedelta(hours=167)

    autumn = final_schedule(weekly, berlin(2027, 10, 25, 9), berlin(2027, 11, 8, 9))
    assert [s.start for s in autumn] == [utc(2027, 10, 25, 7), utc(2027, 11, 1, 8)]
    assert autumn[0].end - autumn[0].start == timedelta(hours=169)
    for shift in spring + autumn:
        local = shift.start.astimezone(BERLIN)
        assert (local.weekday(), local.hour, local.minute) == (Weekday.MON, 9, 0)


def test_on_call_at_switches_at_the_moved_handoff_on_the_spring_forward_night() -> None:
    daily = one_layer(layer(start=berlin(2027, 3, 26, 2, 30), kind=RotationKind.DAILY))

    before = on_call_at(daily, utc(2027, 3, 28, 0, 59, 59))
    after = on_call_at(daily, utc(2027, 3, 28, 1, 0))

    assert before is not None
    assert before.user == "bob"
    assert after == OnCall("carol", Source(SourceKind.LAYER, 0, "primary"))


# --- worked DST cases: America/New_York ---------------------------------------------------------


def test_a_daily_0230_handoff_happens_at_0300_edt_on_the_new_york_spring_forward_day() -> None:
    daily = one_layer(
        layer(start=new_york(2027, 3, 13, 2, 30), kind=RotationKind.DAILY, time_zone="America/New_York"),
        time_zone="America/New_York",
    )

    shifts = final_schedule(daily, new_york(2027, 3, 13, 2, 30), new_york(2027, 3, 16, 2, 30))

    assert [s.start for s in shifts] == [utc(2027, 3, 13, 7, 30), utc(2027, 3, 14, 7), utc(2027, 3, 15, 6, 30)]
    assert shifts[1].start.astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:00 EDT"
    assert [s.end - s.start for s in shifts] == [timedelta(hours=h) for h in (23.5, 23.5, 24)]


def test_a_daily_0130_handoff_happens_at_the_first_0130_on_the_new_york_fall_back_day() -> None:
    daily = one_layer(
        layer(start=new_york(2027, 11, 6, 1, 30), kind=RotationKind.DAILY, time_zone="America/New_York"),
        time_zone="America/New_York",
    )

    shifts = final_schedule(daily, new_york(2027, 11, 6, 1, 30), new_york(2027, 11, 9, 1, 30))

    assert [s.start for s in shifts] == [utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30)]
    assert shifts[1].start.astimezone(NEW_YORK).strftime("%H:%M %Z") == "01:30 EDT"
    assert [s.end - s.start for s in shifts] == [timedelta(hours=h) for h in (24, 25, 24)]


def test_a_weekly_monday_0900_handoff_in_new_york_keeps_0900_across_both_changes() -> None:
    weekly = one_layer(layer(start=new_york(2027, 3, 8, 9), time_zone="America/New_York"), time_zone="America/New_York")

    starts = handoff_instants(weekly, new_york(2027, 3, 8, 9), new_york(2027, 3, 22, 9))
    starts += handoff_instants(weekly, new_york(2027, 11, 1, 9), new_york(2027, 11, 15, 9))

    assert starts == [utc(2027, 3, 8, 14), utc(2027, 3, 15, 13), utc(2027, 11, 1, 13), utc(2027, 11, 8, 14)]
    assert {s.astimezone(NEW_YORK).strftime("%a %H:%M") for s in starts} == {"Mon 09:00"}


# --- hour-based shifts are elapsed time ---------------------------------------------------------


def test_a_12_hour_rotation_runs_exact_hours_across_the_berlin_spring_forward_night() -> None:
    twelve = one_layer(layer(start=berlin(2027, 3, 27, 8), kind=RotationKind.HOURLY, every=12))

    shifts = final_schedule(twelve, berlin(2027, 3, 27, 8), berlin(2027, 3, 29, 9))

    assert [s.start for s in shifts] == [
        utc(2027, 3, 27, 7),
        utc(2027, 3, 27, 19),
        utc(2027, 3, 28, 7),
        utc(2027, 3, 28, 19),
    ]
    assert {s.end - s.start for s in shifts} == {timedelta(hours=12)}
    # Exact hours, so the local hand-off time moves with the clocks: 08:00/20:00 becomes 09:00/21:00.
    assert [s.start.astimezone(BERLIN).hour for s in shifts] == [8, 20, 9, 21]
    assert users(shifts) == ["alice", "bob", "carol", "alice"]


# --- gap and fold resolution ----------------------------------------------------------------------


def test_a_time_in_the_spring_forward_gap_resolves_to_the_transition() -> None:
    assert resolve_local(datetime(2027, 3, 28, 2, 30), BERLIN) == utc(2027, 3, 28, 1)
    assert resolve_local(datetime(2027, 3, 28, 2, 0), BERLIN) == utc(2027, 3, 28, 1)
    assert resolve_local(datetime(2027, 3, 14, 2, 59), NEW_YORK) == utc(2027, 3, 14, 7)


def test_a_time_in_the_fall_back_fold_resolves_to_its_first_occurrence() -> None:
    assert resolve_local(datetime(2027, 10, 31, 2, 30), BERLIN) == utc(2027, 10, 31, 0, 30)
    assert resolve_local(datetime(2027, 10, 31, 2, 30, fold=1), BERLIN) == utc(2027, 10, 31, 0, 30)
    assert resolve_local(datetime(2027, 11, 7, 1, 30), NEW_YORK) == utc(2027, 11, 7, 5, 30)


def test_a_start_given_in_another_zone_is_read_on_the_layers_wall_clock() -> None:
    # 08:00 UTC in January is 09:00 in Berlin, so the layer hands off at 09:00 Berlin time, also in summer.
    weekly = one_layer(layer(start=utc(2027, 1, 4, 8)))

    summer = handoff_instants(weekly, berlin(2027, 7, 5, 9), berlin(2027, 7, 19, 9))

    assert summer == [utc(2027, 7, 5, 7), utc(2027, 7, 12, 7)]


# --- restrictions and gaps ----------------------------------------------------------------------

OFFICE_HOURS = Restriction(WORKDAYS, time(9), time(17))


def test_office_hours_leave_nights_and_the_weekend_as_described_gaps() -> None:
    office = one_layer(layer(("alice", "bob"), start=berlin(2027, 3, 1, 9), restrictions=(OFFICE_HOURS,)))

    found = gaps(office, berlin(2027, 3, 22), berlin(2027, 3, 29))

    assert [gap.description for gap in found] == [
        "nobody on call Mon 2027-03-22 00:00-09:00 (Europe/Berlin)",
        "nobody on call Mon 2027-03-22 17:00 to Tue 2027-03-23 09:00 (Europe/Berlin)",
        "nobody on call Tue 2027-03-23 17:00 to Wed 2027-03-24 09:00 (Europe/Berlin)",
        "nobody on call Wed 2027-03-24 17:00 to Thu 2027-03-25 09:00 (Europe/Berlin)",
        "nobody on call Thu 2027-03-25 17:00 to Fri 2027-03-26 09:00 (Europe/Berlin)",
        "nobody on call Fri 2027-03-26 17:00 to Mon 2027-03-29 00:00 (Europe/Berlin)",
    ]
    # The weekend gap spans the spring-forward night: 55 wall-clock hours, 54 elapsed.
    assert found[-1].end - found[-1].start == timedelta(hours=54)


def test_office_hours_shifts_keep_the_rotation_and_cover_only_the_windows() -> None:
    office = one_layer(layer(("alice", "bob"), start=berlin(2027, 3, 1, 9), restrictions=(OFFICE_HOURS,)))

    shifts = final_schedule(office, berlin(2027, 3, 26), berlin(2027, 3, 30))

    # Week 4 of the rotation is bob's; the restriction blanks out the rest but moves no hand-off.
    assert [(s.start.astimezone(BERLIN).strftime("%a %H:%M"), s.end - s.start, s.user) for s in shifts] == [
        ("Fri 09:00", timedelta(hours=8), "bob"),
        ("Mon 09:00", timedelta(hours=8), "alice"),
    ]


def test_a_gap_ending_at_midnight_reads_as_24_00() -> None:
    office = one_layer(layer(("alice",), start=berlin(2027, 3, 1, 9), restrictions=(OFFICE_HOURS,)))

    found = gaps(office, berlin(2027, 3, 22), berlin(2027, 3, 23))

    assert [gap.description for gap in found] == [
        "nobody on call Mon 2027-03-22 00:00-09:00 (Europe/Berlin)",
        "nobody on call Mon 2027-03-22 17:00-24:00 (Europe/Berlin)",
    ]


def test_a_day_layer_and_a_short_night_layer_leave_the_early_morning_uncovered() -> None:
    day = layer(
        ("alice", "bob"),
        start=berlin(2027, 3, 1, 8),
        name="day",
        restrictions=(Restriction(EVERY_DAY, time(8), MIDNIGHT),),
    )
    night = layer(
        ("carol",), start=berlin(2027, 3, 1, 0), name="night", restrictions=(Restriction(EVERY_DAY, time(0), time(2)),)
    )
    schedule = Schedule("ops", "Europe/Berlin", (day, night))

    found = gaps(schedule, berlin(2027, 3, 30), berlin(2027, 3, 31))

    assert found == [
        Gap(utc(2027, 3, 30, 0), utc(2027, 3, 30, 6), "nobody on call Tue 2027-03-30 02:00-08:00 (Europe/Berlin)")
    ]


def test_a_window_inside_the_spring_forward_gap_is_empty_that_night() -> None:
    small_hours = layer(("alice",), start=berlin(2027, 3, 1), restrictions=(Restriction(EVERY_DAY, time(2), time(3)),))
    schedule = one_layer(small_hours)

    def covered(night: date) -> timedelta:
        start = datetime.combine(night, time(0), BERLIN)
        return sum((s.end - s.start for s in final_schedule(schedule, start, start + timedelta(hours=6))), timedelta())

    assert covered(date(2027, 3, 27)) == timedelta(hours=1)
    assert covered(date(2027, 3, 28)) == timedelta(0)
    # 02:00 and 03:00 on the fall-back night are the first 02:00 (CEST) and the only 03:00 (CET).
    assert covered(date(2027, 10, 31)) == timedelta(hours=2)


# --- layers and overrides -----------------------------------------------------------------------


def test_a_later_layer_wins_where_it_has_someone_and_the_lower_one_fills_the_rest() -> None:
    base = layer(("alice", "bob"), start=berlin(2027, 3, 1, 9), name="base")
    weekend = layer(
        ("carol",),
        start=berlin(2027, 3, 1),
        name="weekend",
        restrictions=(Restriction(frozenset({Weekday.SAT, Weekday.SUN}), time(0), MIDNIGHT),),
    )
    schedule = Schedule("ops", "Europe/Berlin", (base, weekend))

    shifts = final_schedule(schedule, berlin(2027, 3, 5), berlin(2027, 3, 9))

    assert [(s.start, s.user, s.source.name) for s in shifts] == [
        (berlin(2027, 3, 5), "alice", "base"),
        (berlin(2027, 3, 6), "carol", "weekend"),
        (berlin(2027, 3, 8), "alice", "base"),  # same person as before the weekend, but a new stretch
        (berlin(2027, 3, 8, 9), "bob", "base"),
    ]
    assert gaps(schedule, berlin(2027, 3, 5), berlin(2027, 3, 9)) == []


def test_an_override_wins_over_every_layer_and_the_later_override_wins_over_an_earlier_one() -> None:
    base = layer(("alice", "bob"), start=berlin(2027, 3, 1, 9), name="base")
    top = layer(("carol",), start=berlin(2027, 3, 1, 9), name="top")
    dave_covers = Override("dave", berlin(2027, 3, 3, 12), berlin(2027, 3, 3, 18))
    bob_covers = Override("bob", berlin(2027, 3, 3, 14), berlin(2027, 3, 3, 15))
    schedule = Schedule("ops", "Europe/Berlin", (base, top), (dave_covers, bob_covers))

    shifts = final_schedule(schedule, berlin(2027, 3, 3), berlin(2027, 3, 4))

    assert [(s.start.astimezone(BERLIN).hour, s.user, s.source.kind) for s in shifts] == [
        (0, "carol", SourceKind.LAYER),
        (12, "dave", SourceKind.OVERRIDE),
        (14, "bob", SourceKind.OVERRIDE),
        (15, "dave", SourceKind.OVERRIDE),
        (18, "carol", SourceKind.LAYER),
    ]


def test_an_override_fills_a_gap() -> None:
    office = one_layer(
        layer(("alice",), start=berlin(2027, 3, 1, 9), restrictions=(OFFICE_HOURS,)),
        Override("bob", berlin(2027, 3, 6, 10), berlin(2027, 3, 6, 12)),
    )

    found = on_call_at(office, berlin(2027, 3, 6, 11))

    assert found is not None
    assert (found.user, found.source) == ("bob", Source(SourceKind.OVERRIDE, 0, "override"))
    assert on_call_at(office, berlin(2027, 3, 6, 12)) is None


def test_primary_and_backup_are_two_schedules_with_the_rotation_shifted_by_one() -> None:
    monday = berlin(2027, 3, 1, 9)
    primary = one_layer(layer(("alice", "bob", "carol"), start=monday))
    backup = Schedule("ops-backup", "Europe/Berlin", (layer(("bob", "carol", "alice"), start=monday, name="backup"),))

    for week in range(12):
        instant = monday + timedelta(weeks=week, days=3)
        on_primary, on_backup = on_call_at(primary, instant), on_call_at(backup, instant)
        assert on_primary is not None
        assert on_backup is not None
        assert on_primary.user != on_backup.user
        assert on_backup.user == ("alice", "bob", "carol")[(week + 1) % 3]


def test_nobody_is_on_call_before_a_layer_starts_or_after_it_ends() -> None:
    bounded = Layer("temp", ("alice",), berlin(2027, 3, 1, 9), "Europe/Berlin", end=berlin(2027, 3, 5, 17))
    schedule = one_layer(bounded)

    assert on_call_at(schedule, berlin(2027, 3, 1, 8, 59)) is None
    assert on_call_at(schedule, berlin(2027, 3, 5, 16, 59)) is not None
    assert on_call_at(schedule, berlin(2027, 3, 5, 17)) is None


# --- hand-offs ----------------------------------------------------------------------------------


def test_handoffs_name_who_goes_off_and_who_comes_on_including_gaps() -> None:
    office = one_layer(
        layer(("alice", "bob"), start=berlin(2027, 3, 1, 9), kind=RotationKind.DAILY, restrictions=(OFFICE_HOURS,))
    )

    found = handoffs(office, berlin(2027, 3, 1), berlin(2027, 3, 3))

    assert [
        (h.at.astimezone(BERLIN).strftime("%a %H:%M"), h.off and h.off.user, h.on and h.on.user) for h in found
    ] == [
        ("Mon 09:00", None, "alice"),
        ("Mon 17:00", "alice", None),
        ("Tue 09:00", None, "bob"),
        ("Tue 17:00", "bob", None),
    ]


def test_handoffs_at_the_edges_of_consecutive_windows_are_reported_once() -> None:
    daily = one_layer(layer(start=berlin(2027, 3, 1, 9), kind=RotationKind.DAILY))
    a, b, c = berlin(2027, 3, 2), berlin(2027, 3, 3, 9), berlin(2027, 3, 6)

    assert handoffs(daily, a, b) + handoffs(daily, b, c) == handoffs(daily, a, c)
    assert handoffs(daily, b, c)[0].at == b
    assert handoffs(daily, a, b)[-1].at < b


def test_a_one_person_rotation_is_one_shift_and_has_no_handoffs() -> None:
    solo = one_layer(layer(("alice",), start=berlin(2027, 1, 4, 9)))

    assert final_schedule(solo, berlin(2027, 2, 1), berlin(2027, 6, 1)) == [
        Shift(
            berlin(2027, 2, 1).astimezone(UTC),
            berlin(2027, 6, 1).astimezone(UTC),
            "alice",
            Source(SourceKind.LAYER, 0, "primary"),
        )
    ]
    assert handoffs(solo, berlin(2027, 2, 1), berlin(2027, 6, 1)) == []


def test_a_year_of_a_weekly_rotation_is_fifty_two_shifts() -> None:
    weekly = one_layer(layer(start=berlin(2027, 1, 4, 9)))

    shifts = final_schedule(weekly, berlin(2027, 1, 4, 9), berlin(2028, 1, 3, 9))

    assert len(shifts) == 52
    assert {s.start.astimezone(BERLIN).strftime("%a %H:%M") for s in shifts} == {"Mon 09:00"}


# --- validation ---------------------------------------------------------------------------------

MONDAY = berlin(2027, 3, 1, 9)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Layer("primary", (), MONDAY, "Europe/Berlin"), "participants"),
        (lambda: Layer("primary", ("alice", ""), MONDAY, "Europe/Berlin"), "participants"),
        (lambda: Layer("primary", ("alice",), MONDAY, "Europe/Atlantis"), "time_zone.*Europe/Atlantis"),
        (lambda: Layer("primary", ("alice",), MONDAY, ""), "time_zone"),
        (lambda: Layer("primary", ("alice",), MONDAY, "Europe/Berlin", every=0), "every"),
        (lambda: Layer("primary", ("alice",), MONDAY, "Europe/Berlin", RotationKind.HOURLY, -12), "every"),
        (lambda: Layer("primary", ("alice",), datetime(2027, 3, 1, 9), "Europe/Berlin"), "start.*time zone"),
        (lambda: Layer("primary", ("alice",), MONDAY, "Europe/Berlin", end=MONDAY), "end"),
        (lambda: Layer("", ("alice",), MONDAY, "Europe/Berlin"), "name"),
        (lambda: Restriction(WORKDAYS, time(17), time(9)), "restriction end"),
        (lambda: Restriction(WORKDAYS, time(9), time(9)), "restriction end"),
        (lambda: Restriction(frozenset(), time(9), time(17)), "restriction days"),
        (lambda: Override("bob", MONDAY, MONDAY - timedelta(hours=1)), "override end"),
        (lambda: Override("bob", datetime(2027, 3, 1), MONDAY), "override start"),
        (lambda: Schedule("ops", "Mars/Olympus"), "time_zone"),
    ],
)
def test_invalid_definitions_are_refused_naming_the_field(build: object, message: str) -> None:
    assert callable(build)
    with pytest.raises(ValueError, match=message):
        build()


def test_naive_datetimes_and_empty_ranges_are_refused() -> None:
    schedule = one_layer(layer(start=MONDAY))
    with pytest.raises(ValueError, match="instant"):
        on_call_at(schedule, datetime(2027, 3, 2))
    with pytest.raises(ValueError, match="start"):
        final_schedule(schedule, datetime(2027, 3, 2), MONDAY)
    with pytest.raises(ValueError, match="end"):
        gaps(schedule, MONDAY, datetime(2027, 3, 2))
    with pytest.raises(ValueError, match=r"end.*not after start"):
        handoffs(schedule, MONDAY, MONDAY)


# --- properties ---------------------------------------------------------------------------------

EPOCH = utc(2026, 6, 1)
instants = st.integers(0, 2 * 365 * 24 * 60).map(lambda minutes: EPOCH + timedelta(minutes=minutes))


@st.composite
def restrictions(draw: st.DrawFn) -> Restriction:
    days = draw(st.frozensets(st.sampled_from(Weekday), min_size=1))
    start = draw(st.integers(0, 22))
    end = draw(st.one_of(st.just(24), st.integers(start + 1, 24)))
    return Restriction(days, time(start, draw(st.sampled_from((0, 30)))), MIDNIGHT if end == 24 else time(end))


@st.composite
def layers(draw: st.DrawFn, name: str = "layer", restricted: bool = True) -> Layer:
    zone = draw(st.sampled_from(ZONES))
    kind = draw(st.sampled_from(RotationKind))
    every = draw(st.integers(1, 36) if kind == RotationKind.HOURLY else st.integers(1, 3))
    day = draw(st.dates(date(2026, 1, 1), date(2027, 12, 31)))
    wall = time(draw(st.integers(0, 23)), draw(st.sampled_from((0, 15, 30))))
    return Layer(
        name=name,
        participants=tuple(draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4))),
        start=datetime.combine(day, wall, ZoneInfo(zone)),
        time_zone=zone,
        kind=kind,
        every=every,
        restrictions=tuple(draw(st.lists(restrictions(), max_size=2))) if restricted else (),
    )


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    start = draw(instants)
    return Override(draw(st.sampled_from(PEOPLE)), start, start + timedelta(minutes=draw(st.integers(1, 4 * 24 * 60))))


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    count = draw(st.integers(0, 3))
    return Schedule(
        name="ops",
        time_zone=draw(st.sampled_from(ZONES)),
        layers=tuple(draw(layers(name=f"layer {i}")) for i in range(count)),
        overrides=tuple(draw(st.lists(overrides(), max_size=3))),
    )


@st.composite
def ranges(draw: st.DrawFn) -> tuple[datetime, datetime]:
    start = draw(instants)
    return start, start + timedelta(minutes=draw(st.integers(1, 45 * 24 * 60)))


FAST = settings(max_examples=60, deadline=None)
_Piece = tuple[datetime, datetime, OnCall | None]


def pieces(schedule: Schedule, start: datetime, end: datetime) -> list[_Piece]:
    """The final schedule and its gaps together, in order."""
    covered: list[_Piece] = [(s.start, s.end, s.on_call) for s in final_schedule(schedule, start, end)]
    uncovered: list[_Piece] = [(g.start, g.end, None) for g in gaps(schedule, start, end)]
    return sorted(covered + uncovered, key=lambda piece: piece[0])


@FAST
@given(schedules(), ranges())
def test_shifts_and_gaps_tile_the_range_in_order_without_overlaps(
    schedule: Schedule, span: tuple[datetime, datetime]
) -> None:
    start, end = span
    shifts = final_schedule(schedule, start, end)
    tiles = pieces(schedule, start, end)

    assert tiles[0][0] == start
    assert tiles[-1][1] == end
    for (_, end_a, who_a), (start_b, _, who_b) in pairwise(tiles):
        assert end_a == start_b
        assert who_a != who_b  # merged: no two neighbours with the same answer
    assert all(s < e for s, e, _ in tiles)
    assert [s.start for s in shifts] == sorted(s.start for s in shifts)


@FAST
@given(layers(restricted=False), ranges())
def test_a_single_layer_without_restrictions_leaves_no_gaps_once_started(
    rotation: Layer, span: tuple[datetime, datetime]
) -> None:
    start, end = span
    schedule = one_layer(rotation)
    first = final_schedule(schedule, rotation.start - timedelta(days=1), rotation.start + timedelta(days=1))[0].start
    start, end = max(start, first), max(end, first + timedelta(hours=1))

    assert gaps(schedule, start, end) == []


def instant_within(data: st.DataObject, start: datetime, end: datetime) -> datetime:
    # Whole microseconds: a float fraction of the span can round up to `end` itself.
    return start + timedelta(microseconds=data.draw(st.integers(0, (end - start) // timedelta(microseconds=1) - 1)))


@FAST
@given(schedules(), ranges(), st.data())
def test_on_call_at_agrees_with_the_final_schedule(
    schedule: Schedule, span: tuple[datetime, datetime], data: st.DataObject
) -> None:
    start, end = span
    tiles = pieces(schedule, start, end)
    instant = instant_within(data, start, end)
    containing = [who for s, e, who in tiles if s <= instant < e]

    assert len(containing) == 1
    assert on_call_at(schedule, instant) == containing[0]
    # The edges are where an off-by-one would hide: the first and last tick of a few pieces.
    for s, e, who in tiles[:8]:
        assert on_call_at(schedule, s) == who
        assert on_call_at(schedule, e - timedelta(microseconds=1)) == who


@FAST
@given(schedules(), st.lists(overrides(), min_size=1, max_size=4), st.data())
def test_overrides_always_win(schedule: Schedule, extra: list[Override], data: st.DataObject) -> None:
    schedule = Schedule(schedule.name, schedule.time_zone, schedule.layers, (*schedule.overrides, *extra))
    chosen = data.draw(st.sampled_from(schedule.overrides))
    instant = instant_within(data, chosen.start, chosen.end)
    winner = max(i for i, o in enumerate(schedule.overrides) if o.start <= instant < o.end)

    found = on_call_at(schedule, instant)

    assert found == OnCall(schedule.overrides[winner].user, Source(SourceKind.OVERRIDE, winner, "override"))


@FAST
@given(schedules(), ranges())
def test_handoffs_are_exactly_the_changes_of_person(schedule: Schedule, span: tuple[datetime, datetime]) -> None:
    start, end = span
    found = handoffs(schedule, start, end)
    changes = [b[0] for a, b in pairwise(pieces(schedule, start, end)) if _user(a[2]) != _user(b[2])]

    assert [h.at for h in found if h.at > start] == changes
    for handoff in found:
        assert start <= handoff.at < end
        assert on_call_at(schedule, handoff.at) == handoff.on
        assert on_call_at(schedule, handoff.at - timedelta(microseconds=1)) == handoff.off
        assert (handoff.on and handoff.on.user) != (handoff.off and handoff.off.user)


def _user(who: OnCall | None) -> str | None:
    return None if who is None else who.user


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.dates(date(2026, 1, 1), date(2027, 12, 31)),
    st.integers(0, 23),
    st.sampled_from((0, 30)),
)
def test_a_weekly_rotation_hands_off_at_the_same_local_time_across_dst(
    zone_name: str, day: date, hour: int, minute: int
) -> None:
    zone = ZoneInfo(zone_name)
    wall = time(hour, minute)
    weekly = one_layer(layer(("alice", "bob"), start=datetime.combine(day, wall, zone), time_zone=zone_name))
    first = resolve_local(datetime.combine(day, wall), zone)

    starts = handoff_instants(weekly, first, first + timedelta(days=367))

    assert len(starts) == 53
    for week, instant in enumerate(starts):
        expected = datetime.combine(day + timedelta(weeks=week), wall)
        local = instant.astimezone(zone).replace(tzinfo=None)
        if _exists(expected, zone):
            assert local == expected
        else:  # in a spring-forward gap: the first instant after it
            assert local > expected
            assert (instant - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None) < expected


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(ZONES), instants, st.integers(1, 36))
def test_an_hourly_rotation_hands_off_after_exact_elapsed_hours(zone_name: str, start: datetime, every: int) -> None:
    hourly = one_layer(layer(("alice", "bob"), start=start, kind=RotationKind.HOURLY, every=every, time_zone=zone_name))

    starts = handoff_instants(hourly, start, start + timedelta(days=60))

    assert {b - a for a, b in pairwise(starts)} == {timedelta(hours=every)}
