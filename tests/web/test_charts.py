"""The SVG charts: pure functions, so no database here."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree

import pytest
from markupsafe import Markup

from tocsin.web.charts import Series, bar_chart, line_chart, nice_scale, uptime_bars

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def parse(markup: Markup) -> ElementTree.Element:
    """The chart must be well-formed XML (else a browser shows nothing)."""
    return ElementTree.fromstring(str(markup))  # noqa: S314 - our own output


def path_runs(markup: Markup) -> list[list[tuple[float, float]]]:
    path = parse(markup).find(f"{SVG}path")
    assert path is not None
    runs = []
    for run in path.attrib["d"].split("M")[1:]:
        runs.append([(float(x), float(y)) for x, y in (p.strip(" L").split(",") for p in run.split("L"))])
    return runs


@pytest.mark.parametrize(
    ("largest", "scale"),
    [
        (0, (1, 0.25)),
        (0.7, (0.8, 0.2)),
        (1, (1, 0.25)),
        (180, (200, 50)),
        (240, (300, 100)),
        (999, (1000, 250)),
        (300, (300, 100)),
    ],
)
def test_the_y_axis_ends_on_a_round_number(largest: float, scale: tuple[float, float]) -> None:
    top, step = nice_scale(largest)
    assert (top, step) == scale


@pytest.mark.parametrize(
    ("largest", "scale"), [(0, (1, 1)), (3, (3, 1)), (4, (4, 1)), (5, (6, 2)), (9, (10, 5)), (17, (20, 5))]
)
def test_counts_step_by_whole_numbers(largest: float, scale: tuple[float, float]) -> None:
    assert nice_scale(largest, whole=True) == scale


def test_a_line_chart_has_a_point_per_value_scaled_into_the_plot() -> None:
    points = [(T0 + timedelta(minutes=i), float(v)) for i, v in enumerate([100, 200, 50, 0])]
    chart = line_chart(points, width=640, height=180)
    svg = parse(chart)
    assert svg.attrib["data-points"] == "4"
    [run] = path_runs(chart)
    assert len(run) == 4
    xs = [x for x, _ in run]
    ys = [y for _, y in run]
    assert xs == sorted(xs)
    assert (xs[0], xs[-1]) == (56, 632)  # the first and last moments are the plot's edges
    # 200 is the top of the axis (a round number), 0 its bottom, 100 halfway
    assert (ys[1], ys[3], ys[0]) == (8, 158, 83)


def test_a_missing_value_breaks_the_line() -> None:
    values: list[float | None] = [100, 110, None, 120, 130, None, 90]
    points = [(T0 + timedelta(minutes=i), v) for i, v in enumerate(values)]
    chart = line_chart(points)
    assert [len(run) for run in path_runs(chart)] == [2, 2]
    # the lone last point has no line to be drawn with: a dot shows it
    assert len(parse(chart).findall(f"{SVG}circle")) == 1
    assert "2 without a value" in parse(chart).attrib["aria-label"]


def test_a_line_chart_summarises_itself_for_screen_readers() -> None:
    points = [(T0, 100.0), (T0 + timedelta(hours=1), 300.0)]
    svg = parse(line_chart(points, label="Response time, last 24 h"))
    assert svg.attrib["role"] == "img"
    summary = "Response time, last 24 h: 2 points, min 100 ms, average 200 ms, max 300 ms"
    assert svg.attrib["aria-label"] == summary
    title = svg.find(f"{SVG}title")
    assert title is not None
    assert title.text == summary


def test_time_labels_are_in_the_readers_time_zone() -> None:
    points = [(T0, 1.0), (T0 + timedelta(hours=4), 2.0)]
    texts = [t.text for t in parse(line_chart(points, time_zone="Europe/Berlin")).iter(f"{SVG}text")]
    assert {"13:00", "17:00"} <= set(texts)  # 12:00 and 16:00 UTC
    texts = [t.text for t in parse(line_chart(points, time_zone="Not/AZone")).iter(f"{SVG}text")]
    assert "12:00" in texts


def test_a_fixed_time_range_places_points_within_it() -> None:
    chart = line_chart([(T0, 10.0)], start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1))
    [circle] = parse(chart).findall(f"{SVG}circle")
    assert float(circle.attrib["cx"]) == pytest.approx((56 + 632) / 2)


def test_an_empty_line_chart_says_there_is_no_data() -> None:
    svg = parse(line_chart([], label="Run time"))
    assert svg.attrib["aria-label"] == "Run time: no data"
    assert "No data" in [t.text for t in svg.iter(f"{SVG}text")]
    assert svg.find(f"{SVG}path") is None


def test_a_line_chart_of_only_gaps_has_no_line() -> None:
    svg = parse(line_chart([(T0, None), (T0 + timedelta(minutes=1), None)]))
    assert svg.find(f"{SVG}path") is None
    assert svg.attrib["data-points"] == "0"


def test_chart_text_is_escaped() -> None:
    nasty = '<script>alert("x")</script>'
    for chart in (
        line_chart([(T0, 1.0)], label=nasty, unit="<b>"),
        bar_chart([nasty], [Series(nasty, [1.0], color='red" onload="x')], label=nasty),
        uptime_bars([(date(2026, 11, 2), 50.0)], label=nasty),
    ):
        for raw in ("<script>", "<b>", '" onload'):
            assert raw not in chart
        assert parse(chart).attrib["aria-label"].startswith(nasty)


def test_stacked_bars_put_each_series_on_the_one_before() -> None:
    chart = bar_chart(
        ["Nov 2", "Nov 9"],
        [Series("P0", [1, 0], "var(--p0)"), Series("P1", [3, 2], "var(--p1)")],
        label="Incidents per week",
        height=200,
    )
    svg = parse(chart)
    groups = svg.findall(f"{SVG}g")
    assert len(groups) == 2
    first = groups[0].findall(f"{SVG}rect")
    assert [r.find(f"{SVG}title").text for r in first] == ["Nov 2: P0 1", "Nov 2: P1 3"]  # type: ignore[union-attr]
    p0, p1 = (float(r.attrib["height"]) for r in first)
    assert p1 == pytest.approx(3 * p0)
    assert float(first[1].attrib["y"]) + p1 == pytest.approx(float(first[0].attrib["y"]))  # stacked
    # the zero of P0 in the second week draws nothing
    assert len(groups[1].findall(f"{SVG}rect")) == 1
    # the total of 4 is the top of the axis
    assert float(first[1].attrib["y"]) == pytest.approx(28)
    assert "fill:var(--p1)" in first[1].attrib["style"]


def test_several_series_get_a_legend_and_a_summary() -> None:
    svg = parse(bar_chart(["a", "b"], [Series("P0", [1, 0]), Series("P1", [3, 2])], label="Incidents"))
    assert [t.text for t in svg.iter(f"{SVG}text") if t.attrib.get("class") == "legend"] == ["P0", "P1"]
    assert svg.attrib["aria-label"] == "Incidents: 2 bars, a to b, total 6 (P0 1, P1 5)"
    single = parse(bar_chart(["a"], [Series("P0", [1])]))
    assert not [t for t in single.iter(f"{SVG}text") if t.attrib.get("class") == "legend"]


def test_a_bar_chart_without_data_says_so() -> None:
    svg = parse(bar_chart([], [], label="Incidents"))
    assert svg.attrib["aria-label"] == "Incidents: no data"


def test_a_series_must_have_a_value_per_label() -> None:
    with pytest.raises(ValueError, match="2 labels"):
        bar_chart(["a", "b"], [Series("x", [1])])


def test_uptime_bars_are_coloured_by_the_days_uptime_with_a_tooltip() -> None:
    days = [
        (date(2026, 11, 1), 100.0),
        (date(2026, 11, 2), 99.93),
        (date(2026, 11, 3), 97.0),
        (date(2026, 11, 4), 50.0),
        (date(2026, 11, 5), None),
    ]
    svg = parse(uptime_bars(days))
    rects = svg.findall(f"{SVG}rect")
    assert [r.attrib["class"] for r in rects] == ["up", "up", "partial", "down", "nodata"]
    tips = [r.find(f"{SVG}title").text for r in rects]  # type: ignore[union-attr]
    assert tips == [
        "2026-11-01: 100.00 %",
        "2026-11-02: 99.93 %",
        "2026-11-03: 97.00 %",
        "2026-11-04: 50.00 %",
        "2026-11-05: no data",
    ]
    assert svg.attrib["aria-label"] == "Uptime, last 90 days: 86.73 % average over 4 days with data, 1 day down"


def test_ninety_days_make_ninety_bars_in_order() -> None:
    start = date(2026, 9, 1)
    days = [(start + timedelta(days=i), 100.0) for i in range(90)]
    rects = parse(uptime_bars(days)).findall(f"{SVG}rect")
    assert len(rects) == 90
    xs = [float(r.attrib["x"]) for r in rects]
    assert xs == sorted(xs)
    assert re.match(r"2026-11-29: ", rects[-1].find(f"{SVG}title").text or "")  # type: ignore[union-attr]


def test_uptime_bars_without_data() -> None:
    assert parse(uptime_bars([])).attrib["aria-label"] == "Uptime, last 90 days: no data"
