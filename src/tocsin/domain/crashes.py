"""Crash reports: what makes two crashes the same, and when a crash group wants attention.

A crash group is every crash with one fingerprint. The SDK's own `fingerprint`
wins when it sends one (`{{ default }}` in it stands for the fingerprint Tocsin
would have made); otherwise it is the exception type and the top in-app frames,
by module and function only, normalised so that a line moved by an unrelated
edit, a memory address or a bundler's numbered lambda does not split a group.

A new group and a regression (a resolved group seen again in a later release)
raise the group's alert; so does a spike (N events within M minutes). The
crash's level decides the alert's severity word: fatal and error page, a
warning is recorded with low urgency.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

# Frames that make up a default fingerprint, innermost first.
TOP_FRAMES = 5
DEFAULT_TOKEN = "{{ default }}"  # noqa: S105 (a fingerprint placeholder, not a secret)
DEFAULT_SPIKE_EVENTS = 100
DEFAULT_SPIKE_MINUTES = 10
# Alert severity words as the ingest pipeline reads them (domain.alerts.DEFAULT_SEVERITY_RANK):
# `critical` is the second level (P1), `error` the third (P2); `low` and `info` are low urgency.
_SEVERITY_OF_LEVEL = {"fatal": "critical", "error": "error", "warning": "low", "info": "info", "debug": "info"}


class Level(StrEnum):
    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


class GroupStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class Trigger(StrEnum):
    NEW = "new"
    REGRESSION = "regression"
    SPIKE = "spike"


@dataclass(frozen=True)
class Frame:
    function: str = ""
    module: str = ""
    filename: str = ""
    lineno: int | None = None
    in_app: bool | None = None
    context_line: str = ""


@dataclass(frozen=True)
class ExceptionInfo:
    type: str
    value: str = ""
    module: str = ""
    handled: bool | None = None
    frames: tuple[Frame, ...] = ()  # outermost call first, as Sentry sends them


@dataclass(frozen=True)
class Crash:
    """One crash report, as any sender's format reads: a Sentry event or the plain JSON."""

    event_id: str
    level: Level = Level.ERROR
    message: str = ""
    exceptions: tuple[ExceptionInfo, ...] = ()  # the last is the one raised
    fingerprint: tuple[str, ...] = ()
    release: str = ""
    environment: str = ""
    platform: str = ""
    server_name: str = ""
    transaction: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    occurred_at: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)  # what is kept of the event for people to read

    @property
    def top(self) -> ExceptionInfo | None:
        return self.exceptions[-1] if self.exceptions else None


# ---- fingerprints -------------------------------------------------------------------------

_HEX = re.compile(r"0x[0-9a-fA-F]+|\b[0-9a-fA-F]{8,}\b")
_NUMBER = re.compile(r"\d+")
# Anonymous and generated names (`<lambda>`, `Object.<anonymous>`, `lambda$run$0`, `closure#3`):
# their numbers count lambdas in a file, and change with any edit above them.
_ANONYMOUS = re.compile(r"lambda|anonymous|closure|block|anon", re.IGNORECASE)
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def normalise_function(name: str) -> str:
    name = _HEX.sub("<addr>", name.strip())
    if _ANONYMOUS.search(name):
        name = _NUMBER.sub("", name)
    return _SPACES.sub(" ", name)


def normalise_module(frame: Frame) -> str:
    """The module, or the file name when there is none, without a hash a bundler put in it."""
    where = frame.module or frame.filename.rsplit("/", 1)[-1]
    return _HEX.sub("<hash>", where.strip())


def _frames_for(exception: ExceptionInfo) -> list[Frame]:
    """The in-app frames nearest the raise; every frame when the SDK marks none in-app."""
    in_app = [frame for frame in exception.frames if frame.in_app]
    chosen = in_app or list(exception.frames)
    return list(reversed(chosen))[:TOP_FRAMES]


def default_parts(crash: Crash) -> list[str]:
    """The parts of the default fingerprint: type and top frames, or the message when there is no exception."""
    top = crash.top
    if top is None:
        # A message: numbers and addresses vary per occurrence ("took 5012 ms"), the words do not.
        return ["message", _NUMBER.sub("<n>", _HEX.sub("<addr>", crash.message.strip()))[:500]]
    parts = [f"type:{top.type}"]
    frames = _frames_for(top)
    if not frames:
        # No stack at all: the value is all there is to tell two of a type apart.
        parts.append(f"value:{_NUMBER.sub('<n>', top.value)[:200]}")
    parts += [f"{normalise_module(frame)}:{normalise_function(frame.function)}" for frame in frames]
    return parts


def fingerprint_parts(crash: Crash) -> list[str]:
    if not crash.fingerprint:
        return default_parts(crash)
    parts: list[str] = []
    for part in crash.fingerprint:
        if part.strip() == DEFAULT_TOKEN:
            parts += default_parts(crash)
        else:
            parts.append(f"custom:{part}")
    return parts


def fingerprint(crash: Crash) -> str:
    """The group's identity: SHA-256 of its parts, one a line."""
    return hashlib.sha256("\n".join(fingerprint_parts(crash)).encode()).hexdigest()


def title_of(crash: Crash) -> str:
    top = crash.top
    if top is None:
        return (crash.message.strip().splitlines() or ["(no message)"])[0][:300]
    return f"{top.type}: {top.value.strip().splitlines()[0]}"[:300] if top.value.strip() else top.type[:300]


def culprit_of(crash: Crash) -> str:
    """Where it broke: the innermost in-app frame, else the transaction."""
    top = crash.top
    if top is not None:
        frames = _frames_for(top)
        if frames:
            frame = frames[0]
            return f"{normalise_module(frame)} in {frame.function or '?'}"[:300]
    return crash.transaction[:300]


# ---- releases and regressions -----------------------------------------------------------------

_VERSION_PART = re.compile(r"\d+|[A-Za-z]+")


def _release_key(release: str) -> tuple[str, tuple[tuple[int, int | str], ...]]:
    """`checkout@1.10.0` → ("checkout", ((0, 1), (0, 10), (0, 0))): a package name, then the
    version compared part by part, numbers as numbers, so 1.10 is after 1.9."""
    package, at, version = release.rpartition("@")
    if not at:
        package, version = "", release
    parts: list[tuple[int, int | str]] = []
    for token in _VERSION_PART.findall(version):
        parts.append((0, int(token)) if token.isdigit() else (1, token.lower()))
    return package, tuple(parts)


def _is_commit(version: str) -> bool:
    # All digits is a build number or a date (20261123), which orders; a hash has letters.
    return bool(_COMMIT.match(version)) and not version.isdigit()


def is_later_release(release: str, than: str) -> bool | None:
    """Whether `release` comes after `than`; None when they cannot be compared (another
    package, or a version with no digits such as a commit hash)."""
    if not release or not than:
        return None
    package, version = _release_key(release)
    other_package, other_version = _release_key(than)
    if package != other_package:
        return None
    if release == than:
        return False
    orderable = [
        any(kind == 0 for kind, _ in key) and not _is_commit(text.rpartition("@")[2])
        for key, text in ((version, release), (other_version, than))
    ]
    if not all(orderable):
        return None
    return version > other_version


def is_regression(status: GroupStatus, resolved_in: str | None, release: str) -> bool:
    """A resolved group seen again: a regression unless it is the release it was resolved in
    (a crash still coming from machines not yet upgraded) or an older one. With releases
    that cannot be ordered (commit hashes), any other release counts, and so does a crash
    without a release: resolving said "fixed", and here it is."""
    if status != GroupStatus.RESOLVED:
        return False
    if not resolved_in or not release:
        return True
    if release == resolved_in:
        return False
    later = is_later_release(release, resolved_in)
    return later is None or later


# ---- spikes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpikeRule:
    events: int = DEFAULT_SPIKE_EVENTS
    window: timedelta = timedelta(minutes=DEFAULT_SPIKE_MINUTES)

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> SpikeRule:
        return cls(
            events=int(settings.get("spike_events", DEFAULT_SPIKE_EVENTS)),
            window=timedelta(minutes=int(settings.get("spike_minutes", DEFAULT_SPIKE_MINUTES))),
        )


SETTINGS = ("spike_events", "spike_minutes")


def settings_problem(settings: dict[str, Any]) -> tuple[str, str] | None:
    for name, low, high in (("spike_events", 2, 1_000_000), ("spike_minutes", 1, 7 * 24 * 60)):
        value = settings.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
            return name, f"{name} must be a whole number from {low} to {high}"
    return None


def is_spike(rule: SpikeRule, events_in_window: int, last_spike_at: datetime | None, now: datetime) -> bool:
    """N events within M minutes, once per window: a crash loop raises one spike, not one per event."""
    if events_in_window < rule.events:
        return False
    return last_spike_at is None or now - last_spike_at >= rule.window


# ---- severity -------------------------------------------------------------------------------


def level_of(value: object) -> Level:
    """Sentry's level names, and the Python logging ones SDKs pass on; unknown reads as error."""
    word = str(value or "").strip().lower()
    word = {"critical": "fatal", "warn": "warning", "log": "info"}.get(word, word)
    try:
        return Level(word)
    except ValueError:
        return Level.ERROR


def alert_severity(level: Level) -> str:
    return _SEVERITY_OF_LEVEL[level.value]


# ---- sessions and the crash-free rate ---------------------------------------------------------


class SessionStatus(StrEnum):
    OK = "ok"
    EXITED = "exited"
    CRASHED = "crashed"
    ABNORMAL = "abnormal"
    ERRORED = "errored"


@dataclass(frozen=True)
class SessionCounts:
    """Sessions of one release: started, and how those that ended ended."""

    total: int = 0
    errored: int = 0
    crashed: int = 0
    abnormal: int = 0

    def __add__(self, other: SessionCounts) -> SessionCounts:
        return SessionCounts(
            self.total + other.total,
            self.errored + other.errored,
            self.crashed + other.crashed,
            self.abnormal + other.abnormal,
        )

    @property
    def crash_free(self) -> float | None:
        """The share of sessions that did not crash (Sentry's "crash-free sessions"); None with none."""
        if self.total <= 0:
            return None
        return max(0.0, 1.0 - self.crashed / self.total)


def session_update(status: SessionStatus, init: bool, errors: int) -> SessionCounts:
    """What one session update adds. A session is counted when it starts (`init`) and
    again by how it ends; the updates between (status ok) add nothing, so a session
    that sends five updates is one session."""
    total = 1 if init else 0
    if status == SessionStatus.CRASHED:
        return SessionCounts(total=total, crashed=1)
    if status == SessionStatus.ABNORMAL:
        return SessionCounts(total=total, abnormal=1)
    if status == SessionStatus.ERRORED or (status == SessionStatus.EXITED and errors > 0):
        return SessionCounts(total=total, errored=1)
    return SessionCounts(total=total)


def aggregate_bucket(exited: int, errored: int, abnormal: int, crashed: int) -> SessionCounts:
    """A `sessions` aggregate bucket counts ended sessions by outcome; each one started too."""
    return SessionCounts(
        total=exited + errored + abnormal + crashed, errored=errored, crashed=crashed, abnormal=abnormal
    )
