"""What a key, an e-mail address and a time zone must look like.

One set of rules for the API, the CLI and config files: each function returns
what is wrong with a value, or None, and the caller raises its own error type.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")

KEY_MAX = 100
EMAIL_MAX = 320


def key_problem(value: str, max_length: int = KEY_MAX) -> str | None:
    if len(value) > max_length:
        return f"{value!r} is longer than {max_length} characters"
    if not _KEY_RE.match(value):
        return (
            f"{value!r} is not a valid key: lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return None


def email_problem(value: str) -> str | None:
    if len(value) > EMAIL_MAX or not _EMAIL_RE.match(value):
        return f"{value!r} is not an e-mail address"
    return None


def time_zone_problem(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin or UTC"
    return None
