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


# ---- what a runbook must look like ------------------------------------------------------

# Where in a runbook a problem is: ("phases", 0, "items", 2, "role").
FieldPath = tuple[str | int, ...]

MAX_PHASES = 20
MAX_ITEMS = 50  # per phase
MAX_LINKS = 20
TEXT_MAX = 500
NAME_MAX = 100


def url_problem(url: str) -> str | None:
    # Only web addresses: a `javascript:` link on the incident page would run in a responder's session.
    lowered = url.strip().lower()
    if not (lowered.startswith("https://") or lowered.startswith("http://")) or len(url) > 2000 or " " in url.strip():
        return f"{url!r} is not a web address; write one starting with https:// or http://"
    return None


def problems(runbook: Runbook) -> list[tuple[FieldPath, str]]:
    """(field, message) for each thing wrong with a runbook's shape; references (services,
    severities, roles) are the caller's to check against what exists."""
    found: list[tuple[FieldPath, str]] = []
    if not runbook.name.strip():
        found.append((("name",), "a runbook needs a name"))
    if not runbook.phases:
        found.append((("phases",), "a runbook needs at least one phase"))
    if len(runbook.phases) > MAX_PHASES:
        found.append((("phases",), f"at most {MAX_PHASES} phases"))
    if len(runbook.links) > MAX_LINKS:
        found.append((("links",), f"at most {MAX_LINKS} links"))
    for index, link in enumerate(runbook.links):
        if not link.title.strip() or len(link.title) > 200:
            found.append((("links", index, "title"), "a link needs a title of up to 200 characters"))
        problem = url_problem(link.url)
        if problem:
            found.append((("links", index, "url"), problem))
    names: set[str] = set()
    for index, phase in enumerate(runbook.phases):
        base: FieldPath = ("phases", index)
        if not phase.name.strip() or len(phase.name) > NAME_MAX:
            found.append(((*base, "name"), f"a phase needs a name of up to {NAME_MAX} characters"))
        elif phase.name in names:
            found.append(((*base, "name"), f"phase {phase.name!r} is there twice"))
        names.add(phase.name)
        if len(phase.time_frame) > NAME_MAX:
            found.append(((*base, "time_frame"), f"at most {NAME_MAX} characters"))
        if len(phase.items) > MAX_ITEMS:
            found.append(((*base, "items"), f"at most {MAX_ITEMS} items in a phase"))
        for number, item in enumerate(phase.items):
            if not item.text.strip() or len(item.text) > TEXT_MAX:
                found.append(((*base, "items", number, "text"), f"an item needs text of up to {TEXT_MAX} characters"))
    if runbook.services is not None and not runbook.services:
        found.append((("services",), "name at least one service, or leave it out for all"))
    if runbook.severities is not None and not runbook.severities:
        found.append((("severities",), "name at least one severity, or leave it out for all"))
    return found


def roles_named(runbook: Runbook) -> list[tuple[FieldPath, str]]:
    """(field, role key) of every item that names a role."""
    return [
        (("phases", index, "items", number, "role"), item.role)
        for index, phase in enumerate(runbook.phases)
        for number, item in enumerate(phase.items)
        if item.role is not None
    ]
