from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.escalation import Target, TargetKind
from tocsin.errors import Conflict, ValidationFailed
from tocsin.services import directory, policies, schedules
from tocsin.services.actor import Actor
from tocsin.services.policies import LevelSpec, TargetSpec, VariantSpec
from tocsin.storage.models import AuditEvent

FIVE_MINUTES = 300


def setup_org(session: Session, personas: Personas, clock: FrozenClock) -> None:
    """A primary schedule, a manager (Alice) and a CTO."""
    system = Actor.system("tests")
    directory.create_user(session, system, clock.now(), email="cto@example.com", name="Cleo CTO")
    layer = schedules.LayerSpec("weekly", ["bob@example.com"], datetime(2026, 11, 23, 9, 0))
    schedules.create_schedule(session, system, clock.now(), key="primary", layers=[layer])
    session.commit()


def three_levels() -> list[LevelSpec]:
    return [
        LevelSpec(FIVE_MINUTES, [TargetSpec("schedule", "primary")]),
        LevelSpec(FIVE_MINUTES, [TargetSpec("user", "alice@example.com")]),
        LevelSpec(FIVE_MINUTES, [TargetSpec("user", "cto@example.com")]),
    ]


def test_a_three_level_policy_pages_on_call_then_manager_then_cto_five_minutes_apart(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    setup_org(session, personas, clock)
    policies.create_policy(session, personas.bob.actor, clock.now(), key="api-default", levels=three_levels())
    policies.set_service_policy(session, personas.bob.actor, clock.now(), "api", "api-default")
    session.commit()

    plan = policies.plan_for(session, "api", "P2", clock.now())
    start = clock.now()
    assert [(s.level, s.due_at, s.targets) for s in plan.steps] == [
        (0, start, (Target(TargetKind.SCHEDULE, "primary"),)),
        (1, start + timedelta(minutes=5), (Target(TargetKind.USER, "alice@example.com"),)),
        (2, start + timedelta(minutes=10), (Target(TargetKind.USER, "cto@example.com"),)),
    ]
    assert plan.reason is None
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_key.in_(["api", "api-default"])).order_by(AuditEvent.id)
    ).all()
    assert actions == ["create", "create", "set_escalation_policy"]


def test_variants_reshape_the_plan_per_severity(session: Session, personas: Personas, clock: FrozenClock) -> None:
    setup_org(session, personas, clock)
    variants = {"P0": VariantSpec("all_at_once"), "P3": VariantSpec("record_only"), "P1": VariantSpec("step_delay", 60)}
    policies.create_policy(
        session, personas.bob.actor, clock.now(), key="p", levels=three_levels(), repeat=1, variants=variants
    )
    policies.set_service_policy(session, personas.bob.actor, clock.now(), "api", "p")
    start = clock.now()
    p0 = policies.plan_for(session, "api", "P0", start)
    assert [(s.round, s.due_at) for s in p0.steps] == [(0, start)] * 3 + [(1, start + timedelta(minutes=15))] * 3
    assert policies.plan_for(session, "api", "P3", start).steps == ()
    assert [s.due_at - start for s in policies.plan_for(session, "api", "P1", start).steps][:3] == [
        timedelta(0),
        timedelta(minutes=1),
        timedelta(minutes=2),
    ]


def test_a_service_without_a_policy_gets_an_empty_plan_with_the_reason(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    plan = policies.plan_for(session, "web", "P1", clock.now())
    assert plan.steps == ()
    assert plan.reason == "service 'web' has no escalation policy: nobody is paged"
    assert plan.started_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("levels", "variants", "repeat", "field"),
    [
        ([], {}, 0, "levels"),
        ([LevelSpec(60, [])], {}, 0, "levels[0].targets"),
        ([LevelSpec(-1, [TargetSpec("user", "bob@example.com")])], {}, 0, "levels[0].delay_s"),
        ([LevelSpec(60, [TargetSpec("pager", "x")])], {}, 0, "levels[0].targets[0].kind"),
        ([LevelSpec(60, [TargetSpec("schedule", "nope")])], {}, 0, "levels[0].targets[0].key"),
        ([LevelSpec(60, [TargetSpec("user", "eve@example.com")])], {}, 0, "levels[0].targets[0].key"),
        ([LevelSpec(60, [TargetSpec("team", "nope")])], {}, 0, "levels[0].targets[0].key"),
        ([LevelSpec(0, [TargetSpec("team", "platform")])], {}, 2, "repeat"),
        (
            [LevelSpec(60, [TargetSpec("team", "platform")])],
            {"P1": VariantSpec("step_delay")},
            0,
            "variants.P1.step_delay_s",
        ),
        ([LevelSpec(60, [TargetSpec("team", "platform")])], {"P9": VariantSpec("all_at_once")}, 0, "variants.P9"),
        ([LevelSpec(60, [TargetSpec("team", "platform")])], {"P1": VariantSpec("loud")}, 0, "variants.P1.kind"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(
    session: Session,
    personas: Personas,
    clock: FrozenClock,
    levels: list[LevelSpec],
    variants: dict[str, VariantSpec],
    repeat: int,
    field: str,
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        policies.create_policy(
            session, personas.bob.actor, clock.now(), key="p", levels=levels, variants=variants, repeat=repeat
        )
    assert refused.value.field == field


def test_a_policy_in_use_cannot_be_deleted_and_an_update_replaces_the_levels(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    setup_org(session, personas, clock)
    actor = personas.bob.actor
    policies.create_policy(session, actor, clock.now(), key="p", levels=three_levels())
    policies.set_service_policy(session, actor, clock.now(), "api", "p")
    with pytest.raises(Conflict, match="api"):
        policies.delete_policy(session, actor, clock.now(), "p")
    updated = policies.update_policy(
        session, actor, clock.now(), "p", name="Paging", levels=three_levels()[:1], repeat=3
    )
    assert (updated.name, updated.repeat, len(updated.levels)) == ("Paging", 3, 1)
    policies.set_service_policy(session, actor, clock.now(), "api", None)
    policies.delete_policy(session, actor, clock.now(), "p")
    session.commit()
    assert policies.list_policies(session) == []
    with pytest.raises(ValidationFailed) as unknown:
        policies.set_service_policy(session, actor, clock.now(), "api", "gone")
    assert unknown.value.field == "policy"
