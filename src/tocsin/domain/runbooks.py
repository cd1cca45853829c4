"""Runbooks: phases of checklist items, and which runbook fits an incident.

A runbook applies to some services and some severities (`None` = all of them). The most
specific fit wins: one naming both a service of the incident and its severity, then one
naming a service, then one naming the severity, then one for everything; the shipped
`DEFAULT_RUNBOOK` when nothing fits. Ties go to the first key in alphabetical order, so
the choice never depends on the order rows come back in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    text: str
    role: str | None = None


@dataclass(frozen=True)
class Phase:
    name: str
    items: tuple[Item, ...]
    time_frame: str = ""


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Runbook:
    key: str
    name: str
    phases: tuple[Phase, ...]
    links: tuple[Link, ...] = ()
    services: frozenset[str] | None = None  # None: every service
    severities: frozenset[str] | None = None  # None: every severity

    def specificity(self, services: Iterable[str], severity: str) -> int | None:
        """How closely this runbook fits an incident (3 best, 0 fits anything), or None if it does not."""
        if self.severities is not None and severity not in self.severities:
            return None
        if self.services is not None and self.services.isdisjoint(services):
            return None
        return (2 if self.services is not None else 0) + (1 if self.severities is not None else 0)

    def covers(self, service: str) -> bool:
        return self.services is None or service in self.services


DEFAULT_KEY = "default"

DEFAULT_RUNBOOK = Runbook(
    key=DEFAULT_KEY,
    name="Incident response",
    phases=(
        Phase(
            "Declare and assemble",
            (
                Item("Declare the incident and set its severity", "commander"),
                Item("Assign the commander, communications lead and scribe", "commander"),
                Item("Check the dashboards", "scribe"),
                Item("Assess the scope: who and what is affected", "commander"),
            ),
            "first 5 minutes",
        ),
        Phase(
            "Investigate",
            (
                Item("Gather evidence: errors, logs, alerts", "scribe"),
                Item("Check recent changes: deploys, config, feature flags", "scribe"),
                Item("Decide: roll back, turn off a feature flag, or fix forward", "commander"),
                Item("Post the first status update", "communications"),
            ),
            "5-30 minutes",
        ),
        Phase(
            "Mitigate and resolve",
            (
                Item("Apply the mitigation and watch that it holds", "scribe"),
                Item("Keep status updates on the severity's cadence", "communications"),
                Item("Confirm recovery and resolve", "commander"),
            ),
            "30 minutes to resolution",
        ),
        Phase(
            "After",
            (
                Item("Write the postmortem", "commander"),
                Item("File the action items with owners and due dates", "commander"),
            ),
            "after",
        ),
    ),
)


def best_match(runbooks: Sequence[Runbook], services: Iterable[str], severity: str) -> Runbook:
    """The runbook whose checklist an incident with these services and severity gets."""
    keys = frozenset(services)
    best: tuple[int, str] | None = None
    chosen = DEFAULT_RUNBOOK
    for runbook in runbooks:
        score = runbook.specificity(keys, severity)
        if score is None:
            continue
        rank = (-score, runbook.key)
        if best is None or rank < best:
            best, chosen = rank, runbook
    return chosen


def coverage(runbooks: Sequence[Runbook], services: Iterable[str]) -> tuple[list[str], list[str]]:
    """Services some runbook of the team's applies to, and those only the shipped default covers."""
    covered: list[str] = []
    uncovered: list[str] = []
    for service in sorted(services):
        (covered if any(r.covers(service) for r in runbooks) else uncovered).append(service)
    return covered, uncovered
