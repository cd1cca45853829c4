"""What the remote commands print: JSON for scripts, Rich tables for people.

`--json` writes the server's answer unchanged to stdout and nothing else, so
`tocsin incident list --json | jq` always works. Human output shows times in
UTC: responders in several time zones read the same timeline, and the
timeline in the web UI and the postmortem are in UTC too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tocsin.clock import from_env as clock_from_env

Json = dict[str, Any]

NONE = "—"


def console() -> Console:
    # Built per command, not at import: the width (COLUMNS) and the output
    # stream are those of this invocation.
    return Console(highlight=False, soft_wrap=False)


def say(message: str) -> None:
    """One line for people; user-supplied text in it is never read as markup."""
    console().print(message, markup=False, soft_wrap=True)


def error(message: str) -> None:
    Console(stderr=True, highlight=False).print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def now() -> datetime:
    # Honours TOCSIN_TEST_CLOCK_FILE like the server does, so ages agree with a test server's clock.
    return clock_from_env(dict(os.environ)).now()


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    left = int(abs(seconds))
    if left < 60:
        return f"{left}s"
    days, left = divmod(left, 86_400)
    hours, left = divmod(left, 3_600)
    minutes = left // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    # Two units are enough to read at a glance: "2d 3h", not "2d 3h 4m".
    return " ".join([p for p in parts if p][:2])


def age(at: datetime, reference: datetime) -> str:
    delta = (reference - at).total_seconds()
    if abs(delta) < 60:
        return "just now"
    return f"{duration(delta)} ago" if delta > 0 else f"in {duration(delta)}"


def when(value: str | None, *, relative_to: datetime | None = None) -> str:
    """`2026-11-23 09:00 UTC`, with `(5m ago)` when a reference instant is given."""
    at = parse_time(value)
    if at is None:
        return NONE
    text = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{text} ({age(at, relative_to)})" if relative_to is not None else text


def between(start: str | None, end: str | None) -> str | None:
    first, last = parse_time(start), parse_time(end)
    if first is None or last is None:
        return None
    return duration((last - first).total_seconds())


def table(*columns: str, keys: int = 1) -> Table:
    """The first `keys` columns are identifiers people copy: never wrapped; the rest fold."""
    grid = Table(title_justify="left", header_style="bold", show_edge=False, pad_edge=False)
    for index, name in enumerate(columns):
        grid.add_column(name, no_wrap=index < keys, overflow="fold")
    return grid


def joined(values: Iterable[str]) -> str:
    return ", ".join(values) or NONE


# ---- incidents -------------------------------------------------------------


def commander(incident: Json) -> str:
    holder = incident.get("roles", {}).get("commander")
    return str(holder["name"] or holder["user"]) if holder else NONE


def incident_heading(incident: Json) -> str:
    drill = " [yellow]DRILL[/yellow]" if incident["drill"] else ""
    return (
        f"[bold]{incident['human_id']}[/bold]  {escape(incident['severity'])} · {incident['status']}{drill}\n"
        f"{escape(incident['title'])}"
    )


def show_incident(incident: Json, reference: datetime) -> None:
    out = console()
    out.print(incident_heading(incident))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column(overflow="fold")
    facts.add_row("Id", str(incident["id"]))
    facts.add_row("Services", escape(joined(incident["services"])))
    facts.add_row("Declared", when(incident["declared_at"], relative_to=reference))
    for label, key in (
        ("Acknowledged", "acknowledged_at"),
        ("Mitigated", "mitigated_at"),
        ("Resolved", "resolved_at"),
        ("Canceled", "canceled_at"),
    ):
        if incident.get(key):
            after = between(incident["declared_at"], incident[key])
            facts.add_row(label, f"{when(incident[key])} ({after} after declaration)")
    for role, holder in sorted(incident["roles"].items()):
        facts.add_row(role.capitalize(), escape(f"{holder['name']} <{holder['user']}>"))
    for target in incident.get("targets", []):
        due = when(target["due_at"], relative_to=reference if target["status"] == "pending" else None)
        facts.add_row(f"{target['kind'].capitalize()} by", f"{due} · {target['status']}")
    out.print(facts)
    if incident["impact"]:
        out.print(f"\n[dim]Impact[/dim]\n{escape(incident['impact'])}")


def incident_table(page: Json, reference: datetime) -> None:
    out = console()
    items: list[Json] = page["items"]
    if not items:
        out.print("No incidents match.")
        return
    grid = table("Incident", "Sev", "Status", "Title", "Services", "Declared", "Commander", keys=3)
    for incident in items:
        status = incident["status"] + (" (drill)" if incident["drill"] else "")
        grid.add_row(
            incident["human_id"],
            escape(incident["severity"]),
            status,
            escape(incident["title"]),
            escape(joined(incident["services"])),
            when(incident["declared_at"], relative_to=reference),
            escape(commander(incident)),
        )
    out.print(grid)
    shown_from, shown_to = page["offset"] + 1, page["offset"] + len(items)
    if shown_from > 1 or shown_to < page["total"]:
        out.print(f"[dim]{shown_from} to {shown_to} of {page['total']}; see more with --offset {shown_to}[/dim]")


def timeline_table(ref: str, entries: list[Json]) -> None:
    out = console()
    if not entries:
        out.print(f"{escape(ref)} has no timeline entries.")
        return
    grid = table("When", "Who", "What", "")
    for entry in entries:
        grid.add_row(when(entry["at"]), escape(entry["actor"]), entry["kind"], escape(entry["summary"]))
    out.print(grid)


# ---- directory -------------------------------------------------------------


def services_table(services: list[Json]) -> None:
    grid = table("Service", "Name", "Team", "Description")
    for service in services:
        name = service["name"] + (" (archived)" if service["archived"] else "")
        grid.add_row(service["key"], escape(name), escape(service["team"] or NONE), escape(service["description"]))
    console().print(grid if services else "No services yet; add one with `tocsin service create KEY`.")


def teams_table(teams: list[Json]) -> None:
    grid = table("Team", "Name", "Members")
    for team in teams:
        grid.add_row(team["key"], escape(team["name"]), escape(joined(team["members"])))
    console().print(grid if teams else "No teams yet.")


def users_table(users: list[Json]) -> None:
    grid = table("E-mail", "Name", "Role", "Time zone", "Active")
    for user in users:
        grid.add_row(
            escape(user["email"]),
            escape(user["name"]),
            user["role"],
            user["time_zone"],
            "yes" if user["active"] else "no",
        )
    console().print(grid)


def severities_table(schemes: list[Json]) -> None:
    out = console()
    for scheme in schemes:
        active = " (active)" if scheme["active"] else ""
        out.print(f"[bold]Scheme {escape(scheme['name'])}[/bold]{active}")
        grid = table("Level", "Ack within", "Resolve within", "Update every", "Watch after fix", "Description")
        for level in scheme["levels"]:
            grid.add_row(
                escape(level["name"]),
                duration(level["ack_within_s"]),
                duration(level["resolve_within_s"]),
                duration(level["update_every_s"]),
                duration(level["watch_after_fix_s"]),
                escape(level["description"]),
            )
        out.print(grid)
        out.print()


def roles_table(roles: list[Json]) -> None:
    grid = table("Role", "Name", "Description")
    for role in roles:
        grid.add_row(role["key"], escape(role["name"]), escape(role["description"]))
    console().print(grid)
