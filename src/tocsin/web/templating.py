"""The Jinja2 environment every page renders through, and the static files' URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_URL = "/static"
HTMX = f"{STATIC_URL}/htmx-2.0.11.min.js"

templates = Jinja2Templates(directory=str(HERE / "templates"))


def local_time(value: datetime | None, time_zone: str = "UTC", fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the reader's time zone; an em dash for none."""
    if value is None:
        return "—"
    try:
        zone = ZoneInfo(time_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime(fmt)


def duration(value: timedelta | float | None) -> str:
    """A span as people say it: 45s, 12m, 3h 05m, 2d 4h."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{sign}{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{sign}{days}d {hours}h"


def iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


templates.env.filters["local_time"] = local_time
templates.env.filters["duration"] = duration
templates.env.filters["iso"] = iso
templates.env.globals["HTMX"] = HTMX
templates.env.globals["STATIC_URL"] = STATIC_URL
# The main navigation: (label, path); a page marks its own with `nav_active`.
templates.env.globals["NAV"] = [
    ("Dashboard", "/"),
    ("Incidents", "/incidents"),
    ("Alerts", "/alerts"),
    ("Services", "/services"),
    ("On call", "/schedules"),
    ("Policies", "/policies"),
    ("Checks", "/checks"),
    ("Heartbeats", "/heartbeats"),
    ("Crashes", "/crashes"),
    ("Changes", "/changes"),
    ("Postmortems", "/postmortems"),
    ("Reports", "/reports"),
    ("Drills", "/drills"),
    ("Settings", "/settings"),
]
