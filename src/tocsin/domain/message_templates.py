"""The incident messages runbooks spell out, as templates: their keys, shipped defaults and the
names a template may use.

A template is rendered with `context(facts)` through `tocsin.domain.rendering` (sandboxed,
strict: an unknown name is an error). The defaults ship here, in code; a team's edit is a row
(`message_templates`) that replaces one key until it is reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from tocsin.domain.rendering import RenderError


@dataclass(frozen=True)
class TemplateKind:
    key: str
    name: str
    audience: str  # internal / customers / support
    default: str


_DECLARATION = """\
[{{ severity }}] {{ human_id }}: {{ title }}
{{ severity }} ({{ severity_description }}) declared {{ started }}; status: {{ status }}.
Impact: {{ impact or "being assessed" }}
Services: {{ services or "none named yet" }}
Commander: {{ commander or "unassigned" }} · Communications: {{ communications or "unassigned" }} \
· Scribe: {{ scribe or "unassigned" }}
{% if next_update %}Next update by {{ next_update }}.
{% endif %}{{ url }}
"""

_UPDATE = """\
[{{ severity }}] {{ human_id }} update: {{ title }}
Status: {{ status }} ({{ duration }} since {{ started }}).
Impact: {{ impact or "being assessed" }}
{% if root_cause %}Cause: {{ root_cause }}
{% endif %}Commander: {{ commander or "unassigned" }}
{% if next_update %}Next update by {{ next_update }}.
{% endif %}{{ url }}
"""

_RESOLUTION = """\
[{{ severity }}] {{ human_id }} resolved: {{ title }}
Started {{ started }}, mitigated {{ mitigated or "-" }}, resolved {{ resolved or "-" }} ({{ duration }}).
Impact: {{ impact or "none recorded" }}
{% if root_cause %}Cause: {{ root_cause }}
{% endif %}A postmortem follows. Commander: {{ commander or "unassigned" }}
{{ url }}
"""

_CUSTOMER_NOTICE = """\
We are investigating an issue affecting {{ services or "our service" }}.
{{ impact or "Some users may see errors or degraded performance." }}
Our team is working on it and we will post another update{% if next_update %} by {{ next_update }}\
{% else %} soon{% endif %}.
"""

_CUSTOMER_RESOLUTION = """\
The issue affecting {{ services or "our service" }} has been resolved{% if resolved %} as of {{ resolved }}\
{% endif %}.
{% if root_cause %}{{ root_cause }}
{% endif %}We apologize for the disruption and thank you for your patience.
"""

_SUPPORT_BRIEFING = """\
Support briefing for {{ human_id }} ({{ severity }}): {{ title }}
What customers see: {{ impact or "being assessed" }}
Affected: {{ services or "not yet known" }}
Status: {{ status }} since {{ started }} ({{ duration }}).
What to tell them: we know, we are working on it, next update {{ next_update or "to follow" }}.
Do not share: internal hostnames, names of people, or the cause before it is confirmed.
Questions to: {{ communications or commander or "the incident channel" }}
"""

KINDS: tuple[TemplateKind, ...] = (
    TemplateKind("internal_declaration", "Internal declaration", "internal", _DECLARATION),
    TemplateKind("internal_update", "Internal status update", "internal", _UPDATE),
    TemplateKind("internal_resolution", "Internal resolution", "internal", _RESOLUTION),
    TemplateKind("customer_notice", "Customer notice", "customers", _CUSTOMER_NOTICE),
    TemplateKind("customer_resolution", "Customer resolution", "customers", _CUSTOMER_RESOLUTION),
    TemplateKind("support_briefing", "Support briefing", "support", _SUPPORT_BRIEFING),
)
BY_KEY = {kind.key: kind for kind in KINDS}
KEYS = tuple(BY_KEY)

# Every name a template may use, and what it holds: shown beside the editor and in the docs.
NAMES: dict[str, str] = {
    "human_id": "the incident's id, e.g. INC-2026-11-23-001",
    "title": "the incident's title",
    "severity": "its severity level, e.g. P1",
    "severity_description": "what the level means, e.g. 'High: major feature broken for many users'",
    "status": "its status, e.g. investigating",
    "impact": "the impact statement ('' when none)",
    "services": "the affected services' names, comma-separated ('' when none)",
    "commander": "the incident commander's name ('' when unassigned)",
    "communications": "the communications lead's name ('' when unassigned)",
    "scribe": "the technical lead / scribe's name ('' when unassigned)",
    "started": "when it was declared, e.g. 2026-11-23 09:00 UTC",
    "duration": "how long it has lasted (until resolved), e.g. 1 h 20 min",
    "mitigated": "when it was mitigated ('' until then)",
    "resolved": "when it was resolved ('' until then)",
    "root_cause": "the note of its latest move to identified ('' when none)",
    "next_update": "when the next update is due, e.g. 09:30 UTC ('' when no cadence)",
    "url": "the incident's page in Tocsin",
    "drill": "true for a practice incident",
}


@dataclass(frozen=True)
class IncidentFacts:
    """What the templates are filled from, read from an incident as plain values."""

    human_id: str
    title: str
    severity: str
    severity_description: str
    status: str
    impact: str
    services: tuple[str, ...]
    commander: str
    communications: str
    scribe: str
    declared_at: datetime
    mitigated_at: datetime | None
    resolved_at: datetime | None
    root_cause: str
    next_update_at: datetime | None
    url: str
    drill: bool = False


def when(instant: datetime | None) -> str:
    return "" if instant is None else f"{instant:%Y-%m-%d %H:%M} UTC"


def duration(span: timedelta) -> str:
    """'1 h 20 min', '45 min', '2 d 3 h': what a reader takes in at a glance."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def context(facts: IncidentFacts, now: datetime) -> dict[str, Any]:
    end = facts.resolved_at or now
    next_update = ""
    if facts.next_update_at is not None:
        same_day = facts.next_update_at.date() == now.date()
        next_update = f"{facts.next_update_at:%H:%M} UTC" if same_day else when(facts.next_update_at)
    values: dict[str, Any] = {
        "human_id": facts.human_id,
        "title": facts.title,
        "severity": facts.severity,
        "severity_description": facts.severity_description,
        "status": facts.status,
        "impact": facts.impact,
        "services": ", ".join(facts.services),
        "commander": facts.commander,
        "communications": facts.communications,
        "scribe": facts.scribe,
        "started": when(facts.declared_at),
        "duration": duration(end - facts.declared_at),
        "mitigated": when(facts.mitigated_at),
        "resolved": when(facts.resolved_at),
        "root_cause": facts.root_cause,
        "next_update": next_update,
        "url": facts.url,
        "drill": facts.drill,
    }
    assert set(values) == set(NAMES)
    return values


def sample(now: datetime) -> IncidentFacts:
    """A made-up incident to preview a template with when no real one is chosen."""
    return IncidentFacts(
        human_id=f"INC-{now:%Y-%m-%d}-001",
        title="Checkout returns 500s",
        severity="P1",
        severity_description="High: major feature broken for many users",
        status="investigating",
        impact="About a third of checkout attempts fail with an error.",
        services=("Checkout", "Public API"),
        commander="Alice Admin",
        communications="Bob Responder",
        scribe="",
        declared_at=now - timedelta(minutes=40),
        mitigated_at=None,
        resolved_at=None,
        root_cause="",
        next_update_at=now + timedelta(minutes=20),
        url="https://tocsin.example/incidents/INC-sample",
    )


_PARSER = SandboxedEnvironment()


def check_names(source: str) -> None:
    """Refuse a name no template is given, wherever it stands: strict rendering only catches
    the names on the branch a preview happens to take, and `{% if resolved %}{{ resolvd }}`
    would pass every preview of an open incident."""
    try:
        tree = _PARSER.parse(source)
    except TemplateSyntaxError as exc:
        raise RenderError(exc.message or "syntax error", exc.lineno) from None
    unknown = meta.find_undeclared_variables(tree) - set(NAMES)
    if not unknown:
        return
    lines = [node.lineno for node in tree.find_all(nodes.Name) if node.name in unknown and node.ctx == "load"]
    names = ", ".join(repr(name) for name in sorted(unknown))
    raise RenderError(
        f"unknown name{'s' if len(unknown) > 1 else ''} {names}; a template may use {', '.join(NAMES)}",
        min(lines) if lines else None,
    )
