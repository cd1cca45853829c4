"""Signals, alerts and what happens to them: routing, urgency, grouping.

A *signal* is one normalized event from any sender (Alertmanager, PagerDuty
Events, Opsgenie, Grafana, the native API); every inbound format is turned into
signals by `tocsin.integrations`, and from then on they are all treated alike.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tocsin.domain.matchers import Matcher, all_match


class Action(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Urgency(StrEnum):
    HIGH = "high"  # opens or joins an incident (and pages, once paging exists)
    LOW = "low"  # recorded, never pages: "record, don't page"


@dataclass(frozen=True)
class Link:
    href: str
    text: str = ""


@dataclass(frozen=True)
class Signal:
    action: Action
    dedup_key: str
    summary: str = ""
    source: str = ""
    severity: str = ""  # as the sender says it: critical, warning, P1 …
    labels: dict[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    raw: bytes = b""


MAX_DEDUP_KEY = 255


def derived_dedup_key(labels: dict[str, str], summary: str) -> str:
    """A stable key for senders that give none: the same labels and summary are the same alert."""
    canonical = json.dumps({"labels": labels, "summary": summary}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


# What monitoring tools call their levels, and the rank (0 = most severe) each
# usually means: `critical` is the second level (P1, SEV2), leaving the top one
# for a human to declare. Routing rules override it.
DEFAULT_SEVERITY_RANK: dict[str, int] = {
    "critical": 1,
    "crit": 1,
    "fatal": 1,
    "page": 1,
    "high": 2,
    "error": 2,
    "major": 2,
    "warning": 3,
    "warn": 3,
    "medium": 3,
    "minor": 3,
    "low": 3,
    "info": 3,
    "informational": 3,
}
LOW_URGENCY_SEVERITIES = frozenset({"info", "informational", "low"})


@dataclass(frozen=True)
class Rule:
    """One routing rule of a service, in the order they are evaluated."""

    matchers: tuple[Matcher, ...] = ()
    severity: str | None = None  # set the Tocsin level
    route_to: str | None = None  # another service's key
    drop: bool = False
    urgency: Urgency | None = None
    continue_: bool = False  # keep evaluating later rules (Alertmanager's `continue`)


@dataclass(frozen=True)
class Routed:
    dropped: bool
    severity: str | None
    route_to: str | None
    urgency: Urgency
    rule_index: int | None


def route(rules: tuple[Rule, ...], labels: dict[str, str], sender_severity: str) -> Routed:
    """Evaluate rules in order; the first that matches decides unless it says `continue`.
    `severity` is a rule's choice, or None: the caller maps the sender's word to a level."""
    severity: str | None = None
    route_to: str | None = None
    urgency: Urgency | None = None
    decided: int | None = None
    for index, rule in enumerate(rules):
        if not all_match(rule.matchers, labels):
            continue
        decided = index if decided is None else decided
        if rule.drop:
            return Routed(True, None, None, Urgency.LOW, index)
        severity = severity or rule.severity
        route_to = route_to or rule.route_to
        urgency = urgency or rule.urgency
        if not rule.continue_:
            break
    if urgency is None:
        urgency = Urgency.LOW if sender_severity.strip().lower() in LOW_URGENCY_SEVERITIES else Urgency.HIGH
    return Routed(False, severity, route_to, urgency, decided)


def group_key(labels: dict[str, str], group_by: tuple[str, ...]) -> str:
    """Alerts of one service with the same values for the group-by labels share an incident."""
    if not group_by:
        return ""
    return json.dumps({name: labels.get(name, "") for name in group_by}, sort_keys=True, separators=(",", ":"))


def within_window(last_activity: datetime, now: datetime, window: timedelta) -> bool:
    return window > timedelta(0) and now - last_activity <= window


@dataclass(frozen=True)
class Window:
    """A maintenance window or silence: matching alerts are recorded, not paged."""

    name: str
    starts_at: datetime
    ends_at: datetime
    matchers: tuple[Matcher, ...]
    service_key: str | None  # None: every service

    def covers(self, service_key: str, labels: dict[str, str], now: datetime) -> bool:
        if not (self.starts_at <= now < self.ends_at):
            return False
        if self.service_key is not None and self.service_key != service_key:
            return False
        return all_match(self.matchers, labels)


class AutoResolve(StrEnum):
    """What happens to an incident when every one of its alerts has resolved."""

    MONITOR = "monitoring"
    RESOLVE = "resolve"
    NONE = "none"
