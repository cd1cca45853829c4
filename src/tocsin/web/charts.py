"""Server-side SVG charts: pure functions from numbers to markup, no JavaScript.

Three charts, each an ``<svg class="chart" role="img">`` with an ``aria-label`` and a
``<title>`` that summarise it in words (what a screen reader says, and the tooltip):

``line_chart(points, *, label, unit="ms", time_zone="UTC", start=None, end=None)``
    A value over time, e.g. a check's response time. ``points`` are ``(moment, value)``
    sorted by time; a ``None`` value breaks the line (a gap: the check failed, or no
    data that hour). ``start``/``end`` fix the time axis (e.g. the last 24 h) when the
    points do not reach the edges. The y axis starts at 0 and ends on a round number.

``bar_chart(labels, series, *, label, unit="")``
    Counts per category, stacked when there are several series, e.g. incidents per week
    by severity: ``labels=["Nov 2", "Nov 9"]``, ``series=[Series("P0", [1, 0],
    "var(--p0)"), Series("P1", [3, 2], "var(--p1)")]``. Each series needs one value per
    label. Several series get a legend; every segment has a ``<title>`` tooltip.

``uptime_bars(days, *, label="Uptime, last 90 days")``
    One bar per day, oldest first: ``(day, percent up or None)``. A bar is *up*
    (≥ 99.9 %), *partial* (≥ 95 %), *down* (below) or *no data*, and its tooltip says
    ``2026-11-02: 99.93 %``.

Colours are CSS (``currentColor`` and the variables of app.css such as ``var(--ok)``),
so the charts follow the light and dark themes. All text is escaped; the result is a
``markupsafe.Markup`` to put in a template as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

__all__ = ["Series", "bar_chart", "line_chart", "nice_scale", "percent_text", "uptime_bars", "uptime_class"]

# Thresholds of the uptime bars' colours, in percent.
UP_AT = 99.9
PARTIAL_AT = 95.0


@dataclass(frozen=True)
class Series:
    """One stack of a bar chart: its name (for the legend), a value per label, a CSS colour."""

    name: str
    values: Sequence[float]
    color: str = "var(--accent)"


def nice_scale(largest: float, *, whole: bool = False) -> tuple[float, float]:
    """The y axis for values up to ``largest``: ``(top, step)`` with a step of 1, 2, 2.5 or 5
    times a power of ten and at most four steps; ``whole`` numbers (counts) step by 1 or more."""
    if largest <= 0 or not math.isfinite(largest):
        return 1.0, 1.0 if whole else 0.25
    rough = largest / 4
    power = 10 ** math.floor(math.log10(rough))
    step = next(s * power for s in (1.0, 2.0, 2.5, 5.0, 10.0) if rough <= s * power * (1 + 1e-9))
    if whole and not step.is_integer():
        step = 1.0 if step < 1 else 5.0  # 0.x steps to 1, 2.5 steps to 5
    return step * math.ceil(largest / step - 1e-9), step


def _number(value: float) -> str:
    """A number for a label: no trailing zeros, thousands grouped."""
    if value == int(value):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _with_unit(value: float, unit: str) -> str:
    return f"{_number(value)} {unit}" if unit else _number(value)


def _f(value: float) -> str:
    """A coordinate, short: two decimals are finer than a pixel."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _svg(parts: list[str]) -> Markup:
    # Safe: every piece of text in ``parts`` went through escape(), the rest are our numbers.
    return Markup("".join(parts))  # noqa: S704


def _open(width: float, height: float, summary: str, kind: str, extra: str = "") -> str:
    text = escape(summary)
    return (
        f'<svg class="chart {kind}" role="img" aria-label="{text}" viewBox="0 0 {_f(width)} {_f(height)}"'
        f' xmlns="http://www.w3.org/2000/svg"{extra}><title>{text}</title>'
    )


def _y_axis(
    parts: list[str], scale: tuple[float, float], *, left: float, right: float, top: float, bottom: float, unit: str
) -> None:
    """A grid line with its label at every step from 0 to the top."""
    highest, step = scale
    steps = round(highest / step)
    for i in range(steps + 1):
        value = step * i
        y = bottom - (bottom - top) * i / steps
        parts.append(f'<line class="grid-line" x1="{_f(left)}" x2="{_f(right)}" y1="{_f(y)}" y2="{_f(y)}"/>')
        parts.append(
            f'<text x="{_f(left - 4)}" y="{_f(y + 4)}" text-anchor="end">{escape(_with_unit(value, unit))}</text>'
        )


def _time_format(span: timedelta) -> str:
    if span <= timedelta(days=2):
        return "%H:%M"
    return "%b %d"


def line_chart(
    points: Sequence[tuple[datetime, float | None]],
    *,
    label: str = "Response time",
    unit: str = "ms",
    time_zone: str = "UTC",
    start: datetime | None = None,
    end: datetime | None = None,
    width: int = 640,
    height: int = 180,
    time_labels: int = 5,
) -> Markup:
    """A line over time with gaps where a value is None; see the module docstring."""
    values = [v for _, v in points if v is not None]
    moments = [t for t, _ in points]
    first = start or (min(moments) if moments else None)
    last = end or (max(moments) if moments else None)
    if values:
        summary = (
            f"{label}: {len(values)} points, min {_with_unit(min(values), unit)},"
            f" average {_with_unit(sum(values) / len(values), unit)}, max {_with_unit(max(values), unit)}"
        )
        if len(values) < len(points):
            summary += f", {len(points) - len(values)} without a value"
    else:
        summary = f"{label}: no data"
    parts = [_open(width, height, summary, "line-chart", f' data-points="{len(values)}"')]
    left, right, top_y, bottom_y = 56.0, width - 8.0, 8.0, height - 22.0
    scale = nice_scale(max(values) if values else 0.0)
    top = scale[0]
    if values:  # an axis for no data would only put numbers next to nothing
        _y_axis(parts, scale, left=left, right=right, top=top_y, bottom=bottom_y, unit=unit)

    if not values or first is None or last is None:
        parts.append(
            f'<text class="empty" x="{_f((left + right) / 2)}" y="{_f((top_y + bottom_y) / 2)}"'
            f' text-anchor="middle">No data</text></svg>'
        )
        return _svg(parts)

    span = last - first
    seconds = span.total_seconds() or 1.0

    def x_of(moment: datetime) -> float:
        return left + (right - left) * (moment - first).total_seconds() / seconds

    def y_of(value: float) -> float:
        return bottom_y - (bottom_y - top_y) * value / top

    zone = _zone(time_zone)
    fmt = _time_format(span)
    count = max(2, time_labels) if span else 1
    for i in range(count):
        moment = first + span * (i / (count - 1)) if count > 1 else first
        anchor = "start" if i == 0 else "end" if i == count - 1 else "middle"
        text = moment.astimezone(zone).strftime(fmt)
        parts.append(f'<text x="{_f(x_of(moment))}" y="{_f(height - 6)}" text-anchor="{anchor}">{escape(text)}</text>')

    # One path of subpaths: a None ends a run, so the line has a gap there; a run of a
    # single point would draw nothing, so lone points also get a dot.
    runs: list[list[tuple[float, float]]] = [[]]
    for moment, value in points:
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((x_of(moment), y_of(value)))
    path = " ".join("M" + " L".join(f"{_f(x)},{_f(y)}" for x, y in run) for run in runs if len(run) > 1)
    if path:
        parts.append(
            f'<path class="line" d="{path}" fill="none" stroke="currentColor" stroke-width="2"'
            ' stroke-linejoin="round" stroke-linecap="round" vector-effect="non-scaling-stroke"/>'
        )
    for run in runs:
        if len(run) == 1:
            x, y = run[0]
            parts.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="2.5" fill="currentColor"/>')
    parts.append("</svg>")
    return _svg(parts)


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    label: str = "Count",
    unit: str = "",
    width: int = 640,
    height: int = 200,
) -> Markup:
    """Bars per label, the series stacked bottom to top in order; see the module docstring."""
    for one in series:
        if len(one.values) != len(labels):
            raise ValueError(f"series {one.name!r} has {len(one.values)} values for {len(labels)} labels")
    totals = [sum(one.values[i] for one in series) for i in range(len(labels))]
    if labels and series:
        per_series = ", ".join(f"{one.name} {_with_unit(sum(one.values), unit)}" for one in series)
        summary = f"{label}: {len(labels)} bars, {labels[0]} to {labels[-1]}, total {_with_unit(sum(totals), unit)}"
        if len(series) > 1:
            summary += f" ({per_series})"
    else:
        summary = f"{label}: no data"
    legend_height = 20.0 if len(series) > 1 else 0.0
    parts = [_open(width, height, summary, "bar-chart")]
    left, right, top_y, bottom_y = 48.0, width - 8.0, 8.0 + legend_height, height - 22.0
    whole = all(float(v).is_integer() for one in series for v in one.values)
    axis = nice_scale(max(totals, default=0.0), whole=whole)
    top = axis[0]
    if labels and series:
        _y_axis(parts, axis, left=left, right=right, top=top_y, bottom=bottom_y, unit=unit)

    if legend_height:
        x = left
        for one in series:
            parts.append(
                f'<rect x="{_f(x)}" y="6" width="10" height="10" rx="2" style="fill:{escape(one.color)}"/>'
                f'<text class="legend" x="{_f(x + 14)}" y="15">{escape(one.name)}</text>'
            )
            x += 24 + 7 * len(one.name)
    if not labels or not series:
        parts.append(
            f'<text class="empty" x="{_f((left + right) / 2)}" y="{_f((top_y + bottom_y) / 2)}"'
            f' text-anchor="middle">No data</text></svg>'
        )
        return _svg(parts)

    slot = (right - left) / len(labels)
    bar = max(1.0, slot * 0.7)
    # Label every bar when they fit, else every n-th, so labels never overlap.
    every = max(1, math.ceil(len(labels) * 48 / (right - left)))
    scale = (bottom_y - top_y) / top
    for i, name in enumerate(labels):
        x = left + slot * i + (slot - bar) / 2
        base = bottom_y
        parts.append('<g class="bar">')
        for one in series:
            value = one.values[i]
            if value <= 0:
                continue
            h = value * scale
            base -= h
            tip = (
                f"{name}: {one.name} {_with_unit(value, unit)}"
                if len(series) > 1
                else f"{name}: {_with_unit(value, unit)}"
            )
            parts.append(
                f'<rect x="{_f(x)}" y="{_f(base)}" width="{_f(bar)}" height="{_f(h)}"'
                f' style="fill:{escape(one.color)}"><title>{escape(tip)}</title></rect>'
            )
        parts.append("</g>")
        if i % every == 0:
            parts.append(f'<text x="{_f(x + bar / 2)}" y="{_f(height - 6)}" text-anchor="middle">{escape(name)}</text>')
    parts.append("</svg>")
    return _svg(parts)


def uptime_class(percent: float | None) -> str:
    if percent is None:
        return "nodata"
    if percent >= UP_AT:
        return "up"
    if percent >= PARTIAL_AT:
        return "partial"
    return "down"


_FILL: dict[str, str] = {
    "up": "var(--ok)",
    "partial": "var(--warn)",
    "down": "var(--bad)",
    "nodata": "var(--idle)",
}


def percent_text(percent: float) -> str:
    """``99.93 %``: two decimals, since 99.9 and 99.99 are different promises."""
    return f"{percent:.2f} %"


def uptime_bars(
    days: Sequence[tuple[date, float | None]],
    *,
    label: str = "Uptime, last 90 days",
    day_text: Callable[[date], str] = date.isoformat,
) -> Markup:
    """One bar a day, coloured by the day's uptime; see the module docstring."""
    known = [p for _, p in days if p is not None]
    if known:
        down = sum(1 for p in known if p < PARTIAL_AT)
        summary = f"{label}: {percent_text(sum(known) / len(known))} average over {len(known)} days with data"
        if down:
            summary += f", {down} {'day' if down == 1 else 'days'} down"
    else:
        summary = f"{label}: no data"
    bar, gap, height = 4.0, 1.0, 28.0
    width = max(1, len(days)) * (bar + gap) - gap
    parts = [_open(width, height, summary, "uptime-bars", ' preserveAspectRatio="none"')]
    for i, (day, percent) in enumerate(days):
        kind = uptime_class(percent)
        tip = f"{day_text(day)}: {percent_text(percent) if percent is not None else 'no data'}"
        parts.append(
            f'<rect class="{kind}" x="{_f(i * (bar + gap))}" y="0" width="{_f(bar)}" height="{_f(height)}"'
            f' rx="1" style="fill:{_FILL[kind]}"><title>{escape(tip)}</title></rect>'
        )
    parts.append("</svg>")
    return _svg(parts)
