"""The reminder ladder and the due times of the update cadence, customer notice and monitoring window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tocsin.domain.communication import (
    GRACE,
    Action,
    customer_notice_due,
    next_update_due,
    resolvable_at,
    rung,
)
from tocsin.domain.severity import P_SCHEME

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
P0, P1, P2, P3 = (level.policy for level in P_SCHEME.levels)
COMMS, COMMANDER = 2, 1


def test_the_shipped_cadences_are_15_30_and_60_minutes() -> None:
    assert [next_update_due(p, NOW) for p in (P0, P1, P2, P3)] == [
        NOW + timedelta(minutes=15),
        NOW + timedelta(minutes=30),
        NOW + timedelta(minutes=60),
        None,
    ]


def test_customers_are_owed_a_notice_at_once_for_p0_within_an_hour_for_p1_and_never_for_a_drill() -> None:
    assert customer_notice_due(P0, NOW, drill=False) == NOW
    assert customer_notice_due(P1, NOW, drill=False) == NOW + timedelta(hours=1)
    assert customer_notice_due(P2, NOW, drill=False) is None
    assert customer_notice_due(P0, NOW, drill=True) is None


def test_the_monitoring_window_is_2_h_1_h_and_30_min() -> None:
    assert [resolvable_at(p, NOW) - NOW for p in (P0, P1, P2)] == [
        timedelta(hours=2),
        timedelta(hours=1),
        timedelta(minutes=30),
    ]


def test_the_ladder_goes_comms_lead_then_commander_then_page() -> None:
    first = rung(0, NOW, communications=COMMS, commander=COMMANDER, reminded=None)
    assert (first.action, first.user_id, first.next_due) == (Action.REMIND, COMMS, NOW + GRACE)
    second = rung(1, NOW, communications=COMMS, commander=COMMANDER, reminded=COMMS)
    assert (second.action, second.user_id) == (Action.REMIND, COMMANDER)
    third = rung(2, NOW, communications=COMMS, commander=COMMANDER, reminded=COMMANDER)
    assert (third.action, third.next_due) == (Action.PAGE, None)


def test_without_a_comms_lead_the_commander_is_reminded_then_the_escalation_pages() -> None:
    assert rung(0, NOW, communications=None, commander=COMMANDER, reminded=None).user_id == COMMANDER
    assert rung(1, NOW, communications=None, commander=COMMANDER, reminded=COMMANDER).action == Action.PAGE


def test_with_nobody_in_either_role_it_waits_for_someone_to_take_one() -> None:
    for stage in (0, 1, 2):
        waiting = rung(stage, NOW, communications=None, commander=None, reminded=None)
        assert (waiting.action, waiting.next_due) == (Action.WAIT, NOW + GRACE)
