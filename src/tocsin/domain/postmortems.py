"""Postmortem rules: the review states, the shipped template, the timeline table and the export name.

A postmortem moves draft → in_review → published; a review can send it back to
draft, and a published postmortem is the record and no longer changes. The body
is Markdown rendered once, when the incident resolves, from the template (a
team's edit, or `DEFAULT_TEMPLATE`), and edited by hand afterwards.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tocsin.domain.timeline import EntryKind

TEMPLATE_KEY = "postmortem"
MAX_BODY = 200_000


class PostmortemStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


_MOVES = {
    (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW),
    (PostmortemStatus.IN_REVIEW, PostmortemStatus.DRAFT),
    (PostmortemStatus.IN_REVIEW, PostmortemStatus.PUBLISHED),
}


def transition_error(current: PostmortemStatus, target: PostmortemStatus) -> str | None:
    """Why `current → target` is refused, or None when the move is allowed."""
    if current == target:
        return f"the postmortem is already {_label(current)}"
    if current == PostmortemStatus.PUBLISHED:
        return "a published postmortem no longer changes"
    if (current, target) not in _MOVES:
        return f"a postmortem goes from {_label(current)} to review before it is {_label(target)}"
    return None


def _label(status: PostmortemStatus) -> str:
    return status.value.replace("_", " ")


def due_at(resolved_at: datetime, within: timedelta | None) -> datetime | None:
    return None if within is None else resolved_at + within


# Entries that are noise in a postmortem: one per alert attached or resolved (a storm writes hundreds).
_SKIPPED = frozenset({EntryKind.ALERT.value})


@dataclass(frozen=True)
class TimelineRow:
    time: str
    who: str
    what: str
    kind: str


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    kind: str
    summary: str


def timeline_rows(entries: Iterable[Entry]) -> list[TimelineRow]:
    """The rows of the postmortem's timeline table, in order, cells safe inside a Markdown table."""
    return [
        TimelineRow(time=format_time(e.at), who=table_cell(e.actor), what=table_cell(e.summary), kind=e.kind)
        for e in entries
        if e.kind not in _SKIPPED
    ]


def format_time(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}"


def table_cell(text: str) -> str:
    # A newline ends a table row and a bare `|` a cell.
    return " ".join(text.split()).replace("|", "\\|")


def duration_text(span: timedelta) -> str:
    """`2 h 5 min`, `3 d 4 h`, `45 s`: how long an incident lasted, as people say it."""
    seconds = max(int(span.total_seconds()), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def slug(title: str, max_length: int = 60) -> str:
    """`Checkout 500s!` → `checkout-500s`: ASCII, lower case, dashes; `incident` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:max_length].rstrip("-") or "incident"


def export_name(day: datetime, title: str) -> str:
    """The Markdown export's file name: the day the incident started and its title, as in
    `2026-11-22-checkout-500s.md`."""
    return f"{day:%Y-%m-%d}-{slug(title)}.md"


def section(body: str, heading: str) -> str:
    """The text under `## heading` (up to the next heading of that level or above), stripped."""
    lines = body.splitlines()
    found: list[str] = []
    inside = False
    for line in lines:
        match = re.match(r"^(#{1,2})\s+(.*?)\s*$", line)
        if match:
            if inside:
                break
            inside = len(match.group(1)) == 2 and match.group(2).strip().lower() == heading.lower()
            continue
        if inside:
            found.append(line)
    return "\n".join(found).strip()


# Starts the action items an export appends; an edited export sent back is cut here, so the
# table (Tocsin's, always current) is not kept as text and appended again.
ACTION_ITEMS_MARKER = "<!-- tocsin: action items as they stand; edits below this line are not kept -->"


def without_action_items(body: str) -> str:
    head, found, _rest = body.partition(ACTION_ITEMS_MARKER)
    return head.rstrip() + "\n" if found else body


def action_items_table(rows: Sequence[tuple[str, str, str, str, str]]) -> str:
    """The live action items appended to an export: (priority, title, owner, due, status) rows."""
    if not rows:
        return f"{ACTION_ITEMS_MARKER}\n## Action items\n\n_None._\n"
    lines = [ACTION_ITEMS_MARKER, "## Action items", "", "| Priority | Action | Owner | Due | Status |"]
    lines.append("|---|---|---|---|---|")
    lines += ["| " + " | ".join(table_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


DEFAULT_TEMPLATE = """\
# Postmortem: {{ title }}

{{ incident_id }} · {{ severity }}{% if drill %} · drill{% endif %}\
{% if services %} · {{ services | join(", ") }}{% endif %}

## Summary

{{ severity }} incident "{{ title }}", declared {{ started }} UTC and resolved {{ resolved }} UTC \
after {{ duration }}.{% if commander %} Commander: {{ commander }}.{% endif %}

## Impact

{{ impact or "_Who was affected, how, and for how long._" }}

## Duration

| | UTC |
|---|---|
| Started | {{ started }} |
| Acknowledged | {{ acknowledged or "—" }} |
| Mitigated | {{ mitigated or "—" }} |
| Resolved | {{ resolved }} |
| Duration | {{ duration }} |

## Timeline

| Time (UTC) | Who | What |
|---|---|---|
{% for row in timeline %}| {{ row.time }} | {{ row.who }} | {{ row.what }} |
{% endfor %}
## Root cause and contributing factors

_What broke, and why. Which conditions let it happen, or made it worse._

## Resolution

{{ resolution or "_What ended the impact._" }}

## What went well

-

## What could be improved

-

## Lessons

-
"""
