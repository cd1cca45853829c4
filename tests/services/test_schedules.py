from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.schedules import SourceKind
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import policies, schedules
from tocsin.services.schedules import LayerSpec, RestrictionSpec
from tocsin.storage.models import AuditEvent

ALICE, BOB, CHARLIE = "alice@example.com", "bob@example.com", "charlie@example.com"
MONDAY = datetime(2026, 11, 23, 9, 0)  # wall clock: the personas' START is Monday 09:00 UTC


def weekly(name: str, *people: str, **changes: object) -> LayerSpec:
    options: dict[str, object] = {"name": name, "participants": list(people), "start": MONDAY, **changes}
    return LayerSpec(**options)  # type: ignore[arg-type]


def make(session: Session, personas: Personas, clock: FrozenClock, key: str = "primary", **kwargs: object) -> None:
    options: dict[str, object] = {"layers": [weekly("weekly", ALICE, BOB)], "time_zone": "Europe/Berlin", **kwargs}
    schedules.create_schedule(session, personas.bob.actor, clock.now(), key=key, **options)  # type: ignore[arg-type]
    session.commit()


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def test_a_weekly_rotation_hands_off_on_monday_at_the_local_wall_clock(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    make(session, personas, clock)
    # 09:00 in Berlin is 08:00 UTC in winter.
    assert schedules.who_is_on_call(session, "primary", at(23, 7)) is None
    first = schedules.who_is_on_call(session, "primary", at(23, 8))
    assert first is not None
    assert (first.user, first.source.kind, first.source.name) == (ALICE, SourceKind.LAYER, "weekly")
    second = schedules.who_is_on_call(session, "primary", at(30, 8))
    assert second is not None
    assert second.user == BOB

    shifts, gaps = schedules.final(session, "primary", at(23, 0), at(30, 12))
    assert [(s.user, s.start, s.end) for s in shifts] == [(ALICE, at(23, 8), at(30, 8)), (BOB, at(30, 8), at(30, 12))]
    assert [g.description for g in gaps] == ["nobody on call Mon 2026-11-23 01:00-09:00 (Europe/Berlin)"]


def test_a_backup_layer_fills_what_a_restricted_layer_leaves(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    office = RestrictionSpec(days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="17:00")
    layers = [weekly("nights", CHARLIE), weekly("office hours", ALICE, BOB, restrictions=[office])]
    make(session, personas, clock, layers=layers, time_zone="UTC")
    on_call = schedules.who_is_on_call(session, "primary", at(24, 10))
    assert on_call is not None
    assert on_call.user == ALICE
    evening = schedules.who_is_on_call(session, "primary", at(24, 18))
    assert evening is not None
    assert (evening.user, evening.source.name) == (CHARLIE, "nights")


def test_an_override_wins_and_can_be_removed(session: Session, personas: Personas, clock: FrozenClock) -> None:
    make(session, personas, clock)
    override = schedules.add_override(
        session, personas.alice.actor, clock.now(), "primary", user=CHARLIE, start=at(24, 0), end=at(25, 0)
    )
    session.commit()
    covered = schedules.who_is_on_call(session, "primary", at(24))
    assert covered is not None
    assert (covered.user, covered.source.kind) == (CHARLIE, SourceKind.OVERRIDE)
    assert override.created_by == ALICE

    schedules.remove_override(session, personas.alice.actor, clock.now(), "primary", override.id)
    session.commit()
    back = schedules.who_is_on_call(session, "primary", at(24))
    assert back is not None
    assert back.user == ALICE
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "schedule").order_by(AuditEvent.id)
    ).all()
    assert actions == ["create", "add_override", "remove_override"]


def test_an_override_is_validated_through_the_domain(session: Session, personas: Personas, clock: FrozenClock) -> None:
    make(session, personas, clock)
    actor = personas.bob.actor
    with pytest.raises(ValidationFailed) as backwards:
        schedules.add_override(session, actor, clock.now(), "primary", user=CHARLIE, start=at(25), end=at(24))
    assert backwards.value.field == "end"
    with pytest.raises(ValidationFailed) as naive:
        schedules.add_override(
            session, actor, clock.now(), "primary", user=CHARLIE, start=datetime(2026, 11, 24), end=at(25)
        )
    assert naive.value.field == "start"
    with pytest.raises(ValidationFailed) as stranger:
        schedules.add_override(session, actor, clock.now(), "primary", user="eve@example.com", start=at(24), end=at(25))
    assert stranger.value.field == "user"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "layers[0].time_zone"),
        ({"participants": []}, "layers[0].participants"),
        ({"participants": ["eve@example.com"]}, "layers[0].participants"),
        ({"every": 0}, "layers[0].every"),
        ({"kind": "monthly"}, "layers[0].kind"),
        ({"end": datetime(2026, 11, 1, tzinfo=UTC)}, "layers[0].end"),
        ({"restrictions": [RestrictionSpec(["mon"], "17:00", "09:00")]}, "layers[0].restrictions[0].end"),
        ({"restrictions": [RestrictionSpec(["someday"], "09:00", "17:00")]}, "layers[0].restrictions[0].days"),
        ({"restrictions": [RestrictionSpec(["mon"], "9am", "17:00")]}, "layers[0].restrictions[0].start"),
    ],
)
def test_a_bad_layer_is_refused_naming_the_field(
    session: Session, personas: Personas, clock: FrozenClock, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        make(session, personas, clock, layers=[weekly("weekly", ALICE, **changes)])
    assert refused.value.field == field


def test_a_bad_schedule_zone_and_a_duplicate_key_are_refused(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    with pytest.raises(ValidationFailed) as zone:
        make(session, personas, clock, time_zone="Nowhere/Land")
    assert zone.value.field == "time_zone"
    session.rollback()
    make(session, personas, clock)
    with pytest.raises(Conflict) as twice:
        make(session, personas, clock)
    assert twice.value.field == "key"
    with pytest.raises(ValidationFailed) as same_name:
        make(session, personas, clock, key="other", layers=[weekly("a", ALICE), weekly("a", BOB)])
    assert same_name.value.field == "layers[1].name"


def test_update_replaces_the_layers_and_keeps_the_overrides(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    make(session, personas, clock)
    schedules.add_override(
        session, personas.bob.actor, clock.now(), "primary", user=CHARLIE, start=at(24, 0), end=at(25, 0)
    )
    schedules.update_schedule(
        session, personas.bob.actor, clock.now(), "primary", name="Primary", time_zone="UTC", layers=[weekly("d", BOB)]
    )
    session.commit()
    row = schedules.get_schedule(session, "primary")
    assert (row.name, row.time_zone, [layer.name for layer in row.layers]) == ("Primary", "UTC", ["d"])
    assert [o.user.email for o in row.overrides] == [CHARLIE]
    on_call = schedules.who_is_on_call(session, "primary", at(26))
    assert on_call is not None
    assert on_call.user == BOB


def test_a_schedule_a_policy_pages_cannot_be_deleted(session: Session, personas: Personas, clock: FrozenClock) -> None:
    make(session, personas, clock)
    level = policies.LevelSpec(300, [policies.TargetSpec("schedule", "primary")])
    policies.create_policy(session, personas.bob.actor, clock.now(), key="default", levels=[level])
    with pytest.raises(Conflict, match="default"):
        schedules.delete_schedule(session, personas.bob.actor, clock.now(), "primary")
    make(session, personas, clock, key="spare")
    schedules.delete_schedule(session, personas.bob.actor, clock.now(), "spare")
    session.commit()
    with pytest.raises(NotFound):
        schedules.get_schedule(session, "spare")


def test_the_current_shift_says_until_when(session: Session, personas: Personas, clock: FrozenClock) -> None:
    make(session, personas, clock)
    [current] = schedules.on_call_everywhere(session, at(25))
    assert current.on_call is not None
    assert (current.on_call.user, current.until) == (ALICE, at(30, 8))
    assert schedules.current_shift(current.schedule, at(23, 7)).on_call is None


def test_a_range_is_checked(session: Session, personas: Personas, clock: FrozenClock) -> None:
    make(session, personas, clock)
    with pytest.raises(ValidationFailed) as backwards:
        schedules.gaps(session, "primary", at(25), at(24))
    assert backwards.value.field == "end"
    with pytest.raises(ValidationFailed) as too_long:
        schedules.final(session, "primary", at(24), at(24) + timedelta(days=400))
    assert too_long.value.field == "end"
