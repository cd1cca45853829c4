"""The status page's rules: a component's status, the overall indicator, Statuspage's words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tocsin.domain import status_page as sp
from tocsin.domain.status_page import ComponentStatus, Impact, Indicator, OpenIncident


def test_a_component_with_nothing_wrong_is_operational() -> None:
    assert sp.component_status() == ComponentStatus.OPERATIONAL


@pytest.mark.parametrize(
    ("rank", "expected"),
    [
        (0, ComponentStatus.MAJOR_OUTAGE),
        (1, ComponentStatus.PARTIAL_OUTAGE),
        (2, ComponentStatus.DEGRADED_PERFORMANCE),
        (3, ComponentStatus.DEGRADED_PERFORMANCE),
        (None, ComponentStatus.DEGRADED_PERFORMANCE),
    ],
)
def test_an_open_incident_affects_a_component_by_its_severity_rank(rank: int | None, expected: ComponentStatus) -> None:
    assert sp.component_status(incidents=[OpenIncident(rank, "investigating")]) == expected


def test_the_worst_of_several_incidents_wins() -> None:
    found = sp.component_status(incidents=[OpenIncident(2, "triggered"), OpenIncident(0, "identified")])
    assert found == ComponentStatus.MAJOR_OUTAGE


def test_an_incident_being_monitored_is_at_most_degraded() -> None:
    assert sp.component_status(incidents=[OpenIncident(0, "monitoring")]) == ComponentStatus.DEGRADED_PERFORMANCE


def test_a_down_check_is_a_partial_outage_unless_maintenance_is_under_way() -> None:
    assert sp.component_status(checks_down=True) == ComponentStatus.PARTIAL_OUTAGE
    assert sp.component_status(checks_down=True, in_maintenance=True) == ComponentStatus.UNDER_MAINTENANCE


def test_an_incident_during_maintenance_still_shows() -> None:
    found = sp.component_status(incidents=[OpenIncident(1, "investigating")], in_maintenance=True)
    assert found == ComponentStatus.PARTIAL_OUTAGE


def test_a_manual_status_wins_over_everything() -> None:
    found = sp.component_status(
        incidents=[OpenIncident(0, "investigating")], checks_down=True, override=ComponentStatus.OPERATIONAL
    )
    assert found == ComponentStatus.OPERATIONAL


@pytest.mark.parametrize(
    ("components", "impacts", "maintenance", "expected"),
    [
        ([], [], False, Indicator.NONE),
        ([ComponentStatus.OPERATIONAL], [], False, Indicator.NONE),
        ([ComponentStatus.DEGRADED_PERFORMANCE], [], False, Indicator.MINOR),
        ([ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.DEGRADED_PERFORMANCE], [], False, Indicator.MAJOR),
        ([ComponentStatus.MAJOR_OUTAGE], [], True, Indicator.CRITICAL),
        ([ComponentStatus.UNDER_MAINTENANCE], [], False, Indicator.MAINTENANCE),
        ([ComponentStatus.OPERATIONAL], [], True, Indicator.MAINTENANCE),
        ([ComponentStatus.OPERATIONAL], [Impact.CRITICAL], False, Indicator.CRITICAL),
        ([ComponentStatus.UNDER_MAINTENANCE], [Impact.MINOR], False, Indicator.MINOR),
    ],
)
def test_the_overall_indicator_uses_statuspage_values(
    components: list[ComponentStatus], impacts: list[Impact], maintenance: bool, expected: Indicator
) -> None:
    assert sp.indicator(components, impacts, maintenance_active=maintenance) == expected


def test_the_indicator_is_never_operational_and_each_has_statuspage_words() -> None:
    assert {i.value for i in Indicator} == {"none", "minor", "major", "critical", "maintenance"}
    assert sp.INDICATOR_DESCRIPTIONS[Indicator.NONE] == "All Systems Operational"
    assert sp.INDICATOR_DESCRIPTIONS[Indicator.MAJOR] == "Partial System Outage"
    assert sp.INDICATOR_DESCRIPTIONS[Indicator.CRITICAL] == "Major System Outage"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("triggered", "investigating"),
        ("acknowledged", "investigating"),
        ("identified", "identified"),
        ("mitigating", "identified"),
        ("monitoring", "monitoring"),
        ("resolved", "resolved"),
        ("canceled", "resolved"),
    ],
)
def test_tocsin_statuses_map_onto_statuspage_incident_statuses(status: str, expected: str) -> None:
    assert sp.public_status(status).value == expected


def test_impact_follows_the_severity_rank() -> None:
    assert [sp.impact_of(r) for r in (0, 1, 2, None)] == [Impact.CRITICAL, Impact.MAJOR, Impact.MINOR, Impact.MINOR]


def test_maintenance_is_scheduled_then_in_progress_then_completed() -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    end = start + timedelta(hours=2)
    assert sp.maintenance_status(start, end, start - timedelta(minutes=1)) == sp.MaintenanceStatus.SCHEDULED
    assert sp.maintenance_status(start, end, start) == sp.MaintenanceStatus.IN_PROGRESS
    assert sp.maintenance_status(start, end, end) == sp.MaintenanceStatus.COMPLETED


def test_uptime_bars_cover_ninety_days_and_colour_incident_days_by_impact() -> None:
    today = date(2026, 11, 23)
    checks = {today: (100, 100), today - timedelta(days=1): (100, 90), today - timedelta(days=2): (1000, 999)}
    incidents = [(today - timedelta(days=5), today - timedelta(days=4), Impact.MAJOR)]
    bars = sp.uptime_bars(today, checks, incidents)
    assert len(bars) == 90
    assert bars[0].day == today - timedelta(days=89)
    assert bars[-1].day == today
    assert [b.level for b in bars[-6:]] == ["major", "major", "nodata", "none", "critical", "none"]
    assert bars[0].level == "nodata"


def test_an_incident_from_before_the_window_colours_only_the_days_inside() -> None:
    today = date(2026, 11, 23)
    bars = sp.uptime_bars(today, {}, [(today - timedelta(days=200), today - timedelta(days=88), Impact.CRITICAL)])
    assert [b.level for b in bars[:3]] == ["critical", "critical", "nodata"]


def test_uptime_ratio_counts_runs_not_days() -> None:
    today = date(2026, 11, 23)
    assert sp.uptime_ratio({}) is None
    assert sp.uptime_ratio({today: (100, 100), today - timedelta(days=1): (300, 0)}) == 0.25


def test_a_component_without_checks_shows_only_its_incidents() -> None:
    today = date(2026, 11, 23)
    bars = sp.uptime_bars(today, {}, [(today, today, Impact.MINOR)], measured=False)
    assert [b.level for b in bars[-2:]] == ["none", "minor"]
    assert bars[-1].uptime is None
