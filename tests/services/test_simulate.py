"""The what-if simulator runs the real engine against a simulated clock, then leaves no trace.

The organisation: `primary` (Europe/Berlin) rotates Alice and Bob weekly, hand-off
Monday 09:00, with a `business-hours` layer for Charlie on weekdays 09:00-18:00;
Dora (Europe/Berlin) has quiet hours 22:00-07:00. Policy `api-ladder` pages
primary → Dora and Alice → team platform, five minutes apart. 2027-03-28 is the
night Europe/Berlin springs forward: 02:00 CET becomes 03:00 CEST.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.errors import NotFound, ValidationFailed
from tocsin.services import contacts, directory, incidents, policies, schedules
from tocsin.services.actor import Actor
from tocsin.services.policies import LevelSpec, TargetSpec
from tocsin.services.simulate import ACK_NOTE, Simulation, simulate
from tocsin.storage import models

PUBLIC_URL = "https://tocsin.example"
SYSTEM = Actor.system("tests")
BERLIN = ZoneInfo("Europe/Berlin")
DORA = "dora@example.com"


def seed(
    sessions: sessionmaker[Session], clock: FrozenClock, *, level_two: tuple[str, ...] = (DORA, "alice@example.com")
) -> None:
    with sessions() as db:
        now = clock.now()
        directory.create_user(db, SYSTEM, now, email=DORA, name="Dora Night", time_zone="Europe/Berlin")
        for email in ("alice@example.com", "bob@example.com", DORA):
            name = email.partition("@")[0]
            contacts.add_contact_method(
                db, SYSTEM, now, email, name="chat", kind="discord",
                address=f"https://discord.com/api/webhooks/1/{name}", verified=True, high_urgency=True,
            )  # fmt: skip
            contacts.add_contact_method(db, SYSTEM, now, email, name="mail", kind="email", address=email, verified=True)
            contacts.add_rule(db, SYSTEM, now, email, contact_method="chat", delay_s=0)
            contacts.add_rule(db, SYSTEM, now, email, contact_method="mail", delay_s=120)
        contacts.set_quiet_hours(db, SYSTEM, now, DORA, start="22:00", end="07:00")
        weekly = schedules.LayerSpec("weekly", ["alice@example.com", "bob@example.com"], datetime(2027, 3, 1, 9, 0))
        office = schedules.LayerSpec(
            "business-hours",
            ["charlie@example.com"],
            datetime(2027, 3, 1, 9, 0),
            kind="daily",
            restrictions=[schedules.RestrictionSpec(["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00")],
        )
        schedules.create_schedule(db, SYSTEM, now, key="primary", time_zone="Europe/Berlin", layers=[weekly, office])
        levels = [
            LevelSpec(300, [TargetSpec("schedule", "primary")]),
            LevelSpec(300, [TargetSpec("user", email) for email in level_two]),
            LevelSpec(300, [TargetSpec("team", "platform")]),
        ]
        policies.create_policy(db, SYSTEM, now, key="api-ladder", levels=levels)
        policies.set_service_policy(db, SYSTEM, now, "api", "api-ladder")
        db.commit()


def berlin(day: int, hour: int, minute: int) -> datetime:
    return datetime(2027, 3, day, hour, minute, tzinfo=BERLIN)


def run(
    sessions: sessionmaker[Session], at: datetime, severity: str = "P1", horizon: timedelta = timedelta(hours=2)
) -> Simulation:
    """As the edge must: the caller's transaction is rolled back, whatever happens."""
    with sessions() as db:
        try:
            return simulate(db, service_key="api", severity=severity, at=at, horizon=horizon, public_url=PUBLIC_URL)
        finally:
            db.rollback()


def table(result: Simulation) -> list[tuple[str, str, str, int]]:
    """(local time, who, channel or "-", level) per row, as the CLI shows them."""
    return [(f"{p.local:%H:%M %Z}", p.user.partition("@")[0], p.channel or "-", p.level) for p in result.pages]


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as db:
        return {
            model.__tablename__: db.scalar(select(func.count()).select_from(model)) or 0
            for model in (
                models.Incident,
                models.Escalation,
                models.Notification,
                models.TimelineEntry,
                models.ResponseTarget,
            )
        }


@pytest.mark.usefixtures("personas")
def test_it_pages_the_whole_ladder_on_the_dst_night_in_local_time(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    seed(sessions, clock)
    result = run(sessions, berlin(28, 1, 30))

    assert (result.policy, result.time_zone, result.start) == (
        "api-ladder",
        "Europe/Berlin",
        datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
    )
    assert table(result) == [
        ("01:30 CET", "bob", "discord", 1),
        ("01:32 CET", "bob", "email", 1),
        ("01:35 CET", "alice", "discord", 2),
        ("01:35 CET", "dora", "-", 2),
        ("01:37 CET", "alice", "email", 2),
        ("01:40 CET", "alice", "discord", 3),
        ("01:40 CET", "bob", "discord", 3),
        ("01:42 CET", "alice", "email", 3),
        ("01:42 CET", "bob", "email", 3),
    ]
    first = result.pages[0]
    assert first.at == datetime(2027, 3, 28, 0, 30, tzinfo=UTC)
    assert (first.user_zone, f"{first.user_local:%H:%M}") == ("UTC", "00:30")
    # Sunday night: the weekday layer on top is empty, so the weekly rotation answers.
    assert first.why == (
        "on call in primary, layer weekly (layer business-hours is empty outside mon/tue/wed/thu/fri 09:00-18:00)"
    )
    assert result.pages[1].why.endswith("; notification rule: email 2 min after the page")
    assert result.pages[2].why == "named at level 2"
    assert result.pages[5].why == "member of team platform"
    assert result.notes[0] == ACK_NOTE
    assert any(note.startswith("Escalation exhausted at 2027-03-28 01:40 CET") for note in result.notes)


@pytest.mark.usefixtures("personas")
def test_pages_after_the_spring_forward_jump_show_summer_time(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    seed(sessions, clock)
    result = run(sessions, berlin(28, 1, 58))

    assert [row for row in table(result) if row[2] == "discord"] == [
        ("01:58 CET", "bob", "discord", 1),
        ("03:03 CEST", "alice", "discord", 2),
        ("03:08 CEST", "alice", "discord", 3),
        ("03:08 CEST", "bob", "discord", 3),
    ]
    assert [p.at.strftime("%H:%M") for p in result.pages if p.channel == "discord"] == [
        "00:58",
        "01:03",
        "01:08",
        "01:08",
    ]
    assert (
        "The clocks in Europe/Berlin change at 2027-03-28 01:00 UTC: 02:00 CET becomes 03:00 CEST;"
        " local times after it are CEST."
    ) in result.notes


@pytest.mark.usefixtures("personas")
def test_a_user_in_quiet_hours_is_skipped_with_the_reason(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    seed(sessions, clock)
    [dora] = [p for p in run(sessions, berlin(28, 1, 30)).pages if p.user == DORA]

    assert dora.channel is None
    assert not dora.paged
    # 07:00 on the morning after the jump is summer time.
    assert dora.why == "named at level 2; held by quiet hours until 07:00 CEST → next target"


@pytest.mark.usefixtures("personas")
def test_a_level_held_entirely_by_quiet_hours_pages_the_next_level_at_once(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    seed(sessions, clock, level_two=(DORA,))
    result = run(sessions, berlin(28, 1, 30))

    assert [row for row in table(result) if row[2] != "email"] == [
        ("01:30 CET", "bob", "discord", 1),
        ("01:35 CET", "dora", "-", 2),
        ("01:35 CET", "alice", "discord", 3),
        ("01:35 CET", "bob", "discord", 3),
    ]
    assert result.pages[2].why.endswith("; nobody at level 2 was reached, so the next level is paged at once")


@pytest.mark.usefixtures("personas")
def test_an_emergency_pages_through_quiet_hours_and_says_so(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    seed(sessions, clock)
    result = run(sessions, berlin(28, 1, 30), severity="P0")

    [dora] = [p for p in result.pages if p.user == DORA and p.channel == "discord"]
    assert dora.why == "named at level 2; emergency (P0 is an emergency severity): quiet hours ignored"
    assert f"{dora.user_local:%H:%M %Z}" == "01:35 CET"


@pytest.mark.usefixtures("personas")
def test_an_override_is_the_reason(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    seed(sessions, clock)
    with sessions() as db:
        schedules.add_override(
            db, SYSTEM, clock.now(), "primary", user="alice@example.com", start=berlin(27, 22, 0), end=berlin(28, 8, 0)
        )
        db.commit()
    first = run(sessions, berlin(28, 1, 30)).pages[0]

    assert (first.user, first.level, first.why) == ("alice@example.com", 1, "override in primary")


@pytest.mark.usefixtures("personas")
def test_the_simulation_leaves_nothing_in_the_database(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    seed(sessions, clock)
    before = counts(sessions)

    assert run(sessions, berlin(28, 1, 30)).pages
    assert counts(sessions) == before

    # Even a caller that wrongly commits persists nothing: the simulation's savepoint is rolled back.
    with sessions() as db:
        simulate(db, service_key="api", severity="P1", at=berlin(28, 1, 30), public_url=PUBLIC_URL)
        db.commit()
    assert counts(sessions) == before


@pytest.mark.usefixtures("personas")
def test_it_shows_only_the_drill_not_other_escalations_due_by_then(
    sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas
) -> None:
    seed(sessions, clock)
    with sessions() as db:
        real = incidents.declare(db, personas.bob.actor, clock.now(), title="Real", severity="P1", services=["api"])
        db.commit()
        real_id = real.id
    result = run(sessions, berlin(28, 1, 30))

    assert {p.level for p in result.pages} == {1, 2, 3}
    with sessions() as db:
        escalation = db.scalar(select(models.Escalation).where(models.Escalation.incident_id == real_id))
        assert escalation is not None
        assert (escalation.status, escalation.next_step) == ("active", 0)
        assert db.scalar(select(func.count()).select_from(models.Notification)) == 0


@pytest.mark.usefixtures("personas")
def test_a_service_without_a_policy_pages_nobody_and_says_why(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        result = simulate(db, service_key="web", severity="P1", at=berlin(28, 1, 30), public_url=PUBLIC_URL)
        db.rollback()

    assert result.pages == []
    assert result.policy is None
    assert "Nobody is paged: service 'web' has no escalation policy: nobody is paged" in result.notes


@pytest.mark.usefixtures("personas")
def test_the_horizon_cuts_the_ladder_and_says_what_comes_next(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    seed(sessions, clock)
    result = run(sessions, berlin(28, 1, 30), horizon=timedelta(minutes=6))

    assert {p.level for p in result.pages} == {1, 2}
    assert "Paging goes on after the horizon: the next level is due 2027-03-28 01:40 CET." in result.notes


@pytest.mark.usefixtures("personas")
def test_it_refuses_what_it_cannot_simulate(session: Session) -> None:
    with pytest.raises(ValidationFailed, match="no time zone"):
        simulate(session, service_key="api", severity="P1", at=datetime(2027, 3, 28, 1, 30), public_url=PUBLIC_URL)
    with pytest.raises(NotFound, match="no service 'nope'"):
        simulate(session, service_key="nope", severity="P1", at=berlin(28, 1, 30), public_url=PUBLIC_URL)
    with pytest.raises(ValidationFailed):
        simulate(session, service_key="api", severity="P9", at=berlin(28, 1, 30), public_url=PUBLIC_URL)
    with pytest.raises(ValidationFailed, match="horizon"):
        simulate(
            session, service_key="api", severity="P1", at=berlin(28, 1, 30), horizon=timedelta(), public_url=PUBLIC_URL
        )
    session.rollback()


@pytest.mark.usefixtures("personas")
def test_an_emergency_service_pages_through_quiet_hours_at_any_severity_and_says_why(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    seed(sessions, clock)
    assert "held by quiet hours" in next(p.why for p in run(sessions, berlin(28, 1, 30)).pages if p.user == DORA)
    with sessions() as db:
        directory.edit_service(db, SYSTEM, clock.now(), "api", emergency=True)
        db.commit()
    result = run(sessions, berlin(28, 1, 30), severity="P2")

    [dora] = [p for p in result.pages if p.user == DORA and p.channel == "discord"]
    assert dora.why == "named at level 2; emergency (service api is an emergency service): quiet hours ignored"
