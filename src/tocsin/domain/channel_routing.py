"""Which team channels hear about an event: incidents to #alerts, deploys to #deploys, crashes to #crashes.

An event has a type (`incident.resolved`, `deploy.failed`), the services it is
about, and a severity when it has one. A channel's route names event-type
patterns, one service or every service, and optionally a severity threshold;
a channel hears an event when any of its routes matches, and hears it once
however many routes match.

Patterns are an exact type (`deploy.failed`), a family (`incident.*`) or
everything (`*`). Exact names in the families Tocsin emits must be known, so a
typo (`incident.resolve`) is an error instead of a route that never fires; the
families of development events and crashes (`ci`, `dev`, `crash`) take any
well-formed name.

The threshold compares ranks in the active scheme (0 is the most severe): an
event at or above the route's `min_severity` passes. An event without a
severity (a deploy) ignores thresholds. When either name is not in the scheme
(the scheme was switched after the route was written, or the incident was
declared under the old one) the threshold is not applied: a post too many in
a channel is noticed, a channel gone silent is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tocsin.domain.incidents import IncidentStatus
from tocsin.domain.timeline import EntryKind


class EventType(StrEnum):
    INCIDENT_DECLARED = "incident.declared"
    # The first move out of `triggered`: someone is on it.
    INCIDENT_ACKNOWLEDGED = "incident.acknowledged"
    # Paging reached a level past the first (or a second round): nobody answered in time.
    INCIDENT_ESCALATED = "incident.escalated"
    INCIDENT_SEVERITY_CHANGED = "incident.severity_changed"
    # Any other status move forward (investigating → identified → mitigating).
    INCIDENT_STATUS_CHANGED = "incident.status_changed"
    # Into `monitoring`: the fix is in, the team watches.
    INCIDENT_MITIGATED = "incident.mitigated"
    INCIDENT_RESOLVED = "incident.resolved"
    INCIDENT_REOPENED = "incident.reopened"
    INCIDENT_CANCELED = "incident.canceled"
    # A status update posted on the incident.
    INCIDENT_UPDATE = "incident.update"
    DEPLOY_STARTED = "deploy.started"
    DEPLOY_SUCCEEDED = "deploy.succeeded"
    DEPLOY_FAILED = "deploy.failed"
    # A change that does not say it is a deploy (a PagerDuty change event, a config change).
    CHANGE_RECORDED = "change.recorded"
    # A release published (GitHub): recorded as a change, posted as this.
    RELEASE_PUBLISHED = "release.published"


EVENT_TYPES = tuple(event.value for event in EventType)
# The events a channel's mention (a role, a user group) is pinged for; every other post is quiet.
CALLS_FOR_PEOPLE = frozenset({EventType.INCIDENT_DECLARED, EventType.INCIDENT_ESCALATED, EventType.INCIDENT_REOPENED})
FAMILIES = ("incident", "deploy", "change", "release", "ci", "dev", "crash")
# CI results and development events (GitHub: ci.failure, dev.pull_request_opened …, see
# docs/github.md) and crash groups: any well-formed name is accepted, as senders add more.
RESERVED_FAMILIES = ("ci", "dev", "crash")
ANY = "*"

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_PATTERN = 100
_CHANGE_EVENTS = frozenset(e for e in EVENT_TYPES if e.startswith(("deploy.", "change.", "release.")))


def pattern_problem(pattern: str) -> str | None:
    """What is wrong with an event-type pattern, or None."""
    if pattern == ANY:
        return None
    family, dot, name = pattern.partition(".")
    if len(pattern) > _MAX_PATTERN or not dot or family not in FAMILIES:
        families = ", ".join(f"{f}.*" for f in FAMILIES)
        return f"{pattern!r} is not an event pattern: use '*', a family ({families}) or a type such as deploy.failed"
    if name == "*":
        return None
    if family in RESERVED_FAMILIES:
        if _NAME_RE.match(name):
            return None
        return f"{pattern!r} is not an event type: {family}. followed by lowercase letters, digits and '_'"
    if pattern in EVENT_TYPES:
        return None
    known = ", ".join(e for e in EVENT_TYPES if e.startswith(f"{family}."))
    return f"unknown event type {pattern!r}; {family} events are {known}, or {family}.* for all of them"


def matches(pattern: str, event_type: str) -> bool:
    if pattern == ANY:
        return True
    family, _, name = pattern.partition(".")
    if name == "*":
        return event_type.startswith(f"{family}.")
    return pattern == event_type


@dataclass(frozen=True)
class Route:
    channel_id: int
    events: tuple[str, ...]
    service_id: int | None = None  # None: every service
    min_severity: str | None = None  # None: every severity


@dataclass(frozen=True)
class Event:
    type: str
    services: frozenset[int] = frozenset()  # what the event is about; empty: no service
    severity: str | None = None


def severity_passes(severity: str | None, minimum: str | None, ranks: Mapping[str, int]) -> bool:
    """`severity` at or above `minimum` by rank (0 is the most severe); see the module docstring for the gaps."""
    if severity is None or minimum is None:
        return True
    rank, threshold = ranks.get(severity), ranks.get(minimum)
    if rank is None or threshold is None:
        return True
    return rank <= threshold


def route_matches(route: Route, event: Event, ranks: Mapping[str, int]) -> bool:
    if route.service_id is not None and route.service_id not in event.services:
        return False
    if not any(matches(pattern, event.type) for pattern in route.events):
        return False
    return severity_passes(event.severity, route.min_severity, ranks)


def channels_for(event: Event, routes: Iterable[Route], ranks: Mapping[str, int]) -> tuple[int, ...]:
    """The channels that hear `event`, each once, in the order of their first matching route."""
    chosen: dict[int, None] = {}
    for route in routes:
        if route.channel_id not in chosen and route_matches(route, event, ranks):
            chosen[route.channel_id] = None
    return tuple(chosen)


# ---- the channels themselves ----------------------------------------------------------

CHANNEL_KINDS = ("discord", "slack", "email", "webhook", "apprise")
# The channel adapters paste a mention into `<@…>` and refuse anything else: a user id,
# or `&` and a Discord role id or Slack user group id.
_MENTION_RE = re.compile(r"^&?[A-Za-z0-9]{1,64}$")


def mention_problem(kind: str, mention: str) -> str | None:
    if kind not in ("discord", "slack"):
        return f"only Discord and Slack channels mention someone, not {kind}"
    if not _MENTION_RE.match(mention):
        return f"{mention!r} is not a Discord or Slack id: letters and digits, after '&' for a role or user group"
    return None


def signing_problem(kind: str) -> str | None:
    return None if kind == "webhook" else f"only webhook channels sign what they send, not {kind}"


# ---- what the timeline and the changes table become ----------------------------------


def status_event(before: str, after: str) -> EventType:
    """The event a status move is. A move that does two things at once (triggered → resolved)
    is the later of them: the channel wants to hear that it is over, not that someone looked."""
    if after == IncidentStatus.RESOLVED:
        return EventType.INCIDENT_RESOLVED
    if after == IncidentStatus.CANCELED:
        return EventType.INCIDENT_CANCELED
    if after == IncidentStatus.MONITORING:
        return EventType.INCIDENT_MITIGATED
    if before in (IncidentStatus.RESOLVED, IncidentStatus.MONITORING):
        return EventType.INCIDENT_REOPENED  # the only moves back (to investigating)
    if before == IncidentStatus.TRIGGERED:
        return EventType.INCIDENT_ACKNOWLEDGED
    return EventType.INCIDENT_STATUS_CHANGED


# The entry kinds that can become posts, for the query that reads the timeline: alert entries
# (one per attached alert, hundreds of thousands in a storm) must never be read for this.
POSTED_KINDS = (EntryKind.DECLARED, EntryKind.STATUS, EntryKind.SEVERITY, EntryKind.UPDATE)
# Notes are read only when they record a page (`data.event`); of those, escalations become posts.
PAGE_NOTE_EVENT = "page"


def timeline_event(kind: str, data: Mapping[str, Any]) -> EventType | None:
    """The event a timeline entry is, or None for entries no channel hears about."""
    if kind == EntryKind.DECLARED:
        return EventType.INCIDENT_DECLARED
    if kind == EntryKind.STATUS:
        return status_event(str(data.get("from", "")), str(data.get("to", "")))
    if kind == EntryKind.SEVERITY:
        return EventType.INCIDENT_SEVERITY_CHANGED
    if kind == EntryKind.UPDATE:
        return EventType.INCIDENT_UPDATE
    if kind == EntryKind.NOTE and data.get("event") == PAGE_NOTE_EVENT:
        # The first level's page is part of the incident being declared; later ones mean nobody answered.
        level, round_ = data.get("level"), data.get("round")
        if (isinstance(level, int) and level > 0) or (isinstance(round_, int) and round_ > 0):
            return EventType.INCIDENT_ESCALATED
    return None


def change_event(declared: object) -> EventType:
    """A change's event: what its sender declared (`details.event`) when that is a deploy or
    change type, e.g. a PagerDuty change event with `custom_details: {event: deploy.failed}`;
    `change.recorded` otherwise."""
    if isinstance(declared, str) and declared in _CHANGE_EVENTS:
        return EventType(declared)
    return EventType.CHANGE_RECORDED
