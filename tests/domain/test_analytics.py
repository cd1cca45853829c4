"""The report's figures from plain rows: response times, compliance, on-call load, action items, CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tocsin.domain import analytics
from tocsin.domain.analytics import ActionItemCount, IncidentTimes, Page, TargetCount

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday
MIN = timedelta(minutes=1)


def incident(
    severity: str = "P1",
    *,
    at: datetime = T0,
    ack: int | None = None,
    mitigate: int | None = None,
    resolve: int | None = None,
    services: tuple[str, ...] = (),
    teams: tuple[str, ...] = (),
) -> IncidentTimes:
    """An incident declared `at`, acknowledged, mitigated and resolved so many minutes later."""

    def after(minutes: int | None) -> datetime | None:
        return None if minutes is None else at + minutes * MIN

    return IncidentTimes.of(at, severity, after(ack), after(mitigate), after(resolve), services, teams)


def test_the_median_and_mean_count_only_the_incidents_that_got_there() -> None:
    figures = analytics.figures(
        "all", [incident(ack=2, resolve=60), incident(ack=4, resolve=120), incident(ack=30), incident()]
    )
    assert figures.incidents == 4
    assert figures.acknowledge == analytics.Stat(3, 240.0, 720.0)
    assert figures.resolve == analytics.Stat(2, 5400.0, 5400.0)
    assert figures.mitigate == analytics.Stat(0, None, None)


def test_a_time_before_the_declaration_counts_as_zero_not_negative() -> None:
    figures = analytics.figures("all", [incident(mitigate=-30)])
    assert figures.mitigate == analytics.Stat(1, 0.0, 0.0)


def test_an_incident_of_two_teams_counts_for_both_and_one_without_a_service_is_named() -> None:
    report = analytics.build_report(
        since=T0 - timedelta(days=40),
        until=T0 + timedelta(days=1),
        incidents=[
            incident("P2", ack=5, services=("api", "web"), teams=("payments", "platform")),
            incident("P0", ack=1, services=("api",), teams=("platform",)),
            incident("P1", ack=3),
        ],
        severities=["P0", "P1", "P2", "P3"],
        targets=[],
        pages=[],
    )
    assert [f.key for f in report.by_severity] == ["P0", "P1", "P2"]  # the scheme's order, P3 absent
    assert {f.key: f.incidents for f in report.by_team} == {"(no team)": 1, "payments": 1, "platform": 2}
    assert {f.key: f.incidents for f in report.by_service} == {"(no service)": 1, "api": 2, "web": 1}
    # Every month of the window, the quiet one too, for the chart.
    assert [(f.key, f.incidents) for f in report.by_month] == [("2026-09", 0), ("2026-10", 0), ("2026-11", 3)]
    assert report.overall.acknowledge.median_s == 180.0


def test_compliance_is_met_over_settled_per_severity_and_in_total() -> None:
    lines = analytics.compliance(
        [
            TargetCount("resolve", "P1", met=1, missed=1),
            TargetCount("acknowledge", "P1", met=3, missed=1, pending=2),
            TargetCount("acknowledge", "P0", met=1, missed=0),
        ],
        ["P0", "P1"],
    )
    assert [(c.kind, c.severity, c.percent) for c in lines] == [
        ("acknowledge", "P0", 100.0),
        ("acknowledge", "P1", 75.0),
        ("acknowledge", "", 80.0),
        ("resolve", "P1", 50.0),
        ("resolve", "", 50.0),
    ]
    assert lines[2].pending == 2
    assert analytics.compliance([TargetCount("acknowledge", "P2", met=0, missed=0, pending=1)])[0].percent is None


def test_working_hours_are_nine_to_six_on_weekdays_on_the_persons_own_clock() -> None:
    monday_9_utc = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert not analytics.outside_working_hours(monday_9_utc, "UTC")
    assert analytics.outside_working_hours(monday_9_utc - MIN, "UTC")
    assert analytics.outside_working_hours(monday_9_utc.replace(hour=18), "UTC")  # 18:00 is after hours
    # 09:00 UTC is 04:00 in New York and 18:00 in Tokyo: both outside.
    assert analytics.outside_working_hours(monday_9_utc, "America/New_York")
    assert analytics.outside_working_hours(monday_9_utc, "Asia/Tokyo")
    assert not analytics.outside_working_hours(monday_9_utc, "Europe/Berlin")
    saturday_noon = datetime(2026, 11, 7, 12, 0, tzinfo=UTC)
    assert analytics.outside_working_hours(saturday_noon, "UTC")
    assert not analytics.outside_working_hours(monday_9_utc, "Not/AZone")  # read as UTC


def test_on_call_load_counts_pages_per_person_most_paged_first() -> None:
    night = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    load = analytics.on_call_load(
        [
            Page("bob@example.com", "Bob", "UTC", night),
            Page("alice@example.com", "Alice", "UTC", T0),
            Page("bob@example.com", "Bob", "UTC", T0),
        ]
    )
    assert load == [
        analytics.PersonLoad("bob@example.com", "Bob", pages=2, outside_hours=1),
        analytics.PersonLoad("alice@example.com", "Alice", pages=1, outside_hours=0),
    ]


def test_action_items_completion_leaves_out_wont_do_and_counts_the_overdue() -> None:
    figures = analytics.action_item_figures(
        [
            ActionItemCount("done", 1, past_due=1),  # done late is done, not overdue
            ActionItemCount("open", 1, past_due=1),
            ActionItemCount("in_progress", 1, past_due=0),
            ActionItemCount("wont_do", 1, past_due=1),
        ]
    )
    assert (figures.total, figures.done, figures.open, figures.overdue, figures.wont_do) == (4, 1, 2, 1, 1)
    assert figures.percent_done == 33.3
    assert analytics.action_item_figures([]).percent_done is None


def test_the_csv_has_one_figure_a_row() -> None:
    report = analytics.build_report(
        since=T0 - timedelta(days=1),
        until=T0 + timedelta(days=1),
        incidents=[incident("P1", ack=2, resolve=90, services=("api",), teams=("platform",))],
        severities=["P1"],
        targets=[TargetCount("acknowledge", "P1", met=1, missed=0)],
        pages=[Page("bob@example.com", "Bob", "UTC", T0)],
        action_items=analytics.action_item_figures([ActionItemCount("done", 1)]),
    )
    rows = analytics.csv_rows(report)
    assert ("severity", "P1", "acknowledge_median_s", "120") in rows
    assert ("service", "api", "resolve_mean_s", "5400") in rows
    assert ("month", "2026-11", "mitigate_median_s", "") in rows
    assert ("target_acknowledge", "all", "percent_met", "100") in rows
    assert ("pages", "bob@example.com", "outside_working_hours", "0") in rows
    assert ("action_items", "", "percent_done", "100") in rows
    assert all(len(row) == len(analytics.CSV_HEADER) for row in rows)
