"""Durations as people write them in a config file: `30s`, `5m`, `1h30m`, `2d`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
# Units largest first, each at most once, so `1h30m` parses and `30m1h` does not.
_DURATION_RE = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")

EXAMPLES = "30s, 5m, 1h30m or 2d"
# Stored as whole seconds in a 32-bit column; no response target is longer than this.
LONGEST = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """A positive duration; raises ValueError with a message fit for the user."""
    match = _DURATION_RE.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration; write it like {EXAMPLES}")
    seconds = sum(int(amount) * _UNITS[unit] for unit, amount in match.groupdict().items() if amount is not None)
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration; leave the field out for no target")
    if seconds > LONGEST.total_seconds():
        raise ValueError(f"{text!r} is longer than {LONGEST.days}d")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest spelling that `parse_duration` reads back to the same value."""
    remaining = int(value.total_seconds())
    if remaining <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
