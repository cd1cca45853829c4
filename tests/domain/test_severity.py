from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tocsin.domain.clocks import TargetKind, target_due
from tocsin.domain.severity import P_SCHEME, SEV_SCHEME


def test_the_default_p_scheme_carries_the_runbook_targets() -> None:
    expected = {
        "P0": (5, 60, 15, 120),
        "P1": (15, 240, 30, 60),
        "P2": (60, 1440, 60, 30),
        "P3": (240, 4320, None, None),
    }
    for name, (ack, resolve, update, watch) in expected.items():
        level = P_SCHEME.level(name)
        assert level is not None
        policy = level.policy
        assert policy.ack_within == timedelta(minutes=ack)
        assert policy.resolve_within == timedelta(minutes=resolve)
        assert policy.update_every == (None if update is None else timedelta(minutes=update))
        assert policy.watch_after_fix == (None if watch is None else timedelta(minutes=watch))


def test_the_sev_scheme_ships_three_levels_most_severe_first() -> None:
    assert [(lv.name, lv.rank) for lv in SEV_SCHEME.levels] == [("SEV1", 0), ("SEV2", 1), ("SEV3", 2)]
    assert SEV_SCHEME.level("P1") is None


def test_the_most_severe_level_of_each_shipped_scheme_is_the_only_emergency() -> None:
    assert [lv.name for lv in P_SCHEME.levels + SEV_SCHEME.levels if lv.emergency] == ["P0", "SEV1"]


def test_targets_count_from_the_declaration() -> None:
    declared = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    p1 = P_SCHEME.level("P1")
    assert p1 is not None
    assert target_due(TargetKind.ACKNOWLEDGE, declared, p1.policy) == declared + timedelta(minutes=15)
    assert target_due(TargetKind.RESOLVE, declared, p1.policy) == declared + timedelta(hours=4)
