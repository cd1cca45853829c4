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
from tocsin.services.integrations import TOOLS

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
    owed = incident.get("communication") or {}
    for label, key in (
        ("Next update by", "next_update_due_at"),
        ("Tell customers by", "customer_notice_due_at"),
        ("Resolvable from", "resolvable_at"),
    ):
        if owed.get(key):
            facts.add_row(label, when(owed[key], relative_to=reference))
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
    _page_footer(out, page, len(items))


def _page_footer(out: Console, page: Json, shown: int) -> None:
    """Where this page sits in the whole list, and how to see the next."""
    shown_from, shown_to = page["offset"] + 1, page["offset"] + shown
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
    grid = table("Service", "Name", "Team", "Emergency", "Description")
    for service in services:
        name = service["name"] + (" (archived)" if service["archived"] else "")
        grid.add_row(
            service["key"],
            escape(name),
            escape(service["team"] or NONE),
            # Older servers do not send the flag.
            "yes" if service.get("emergency") else "no",
            escape(service["description"]),
        )
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
        grid = table(
            "Level",
            "Ack within",
            "Resolve within",
            "Update every",
            "Watch after fix",
            "Customers told",
            "Postmortem due",
            "Emergency",
            "Description",
        )
        for level in scheme["levels"]:
            grid.add_row(
                escape(level["name"]),
                duration(level["ack_within_s"]),
                duration(level["resolve_within_s"]),
                duration(level["update_every_s"]),
                duration(level["watch_after_fix_s"]),
                # Older servers do not send these two.
                duration(level.get("customer_notice_within_s")),
                duration(level.get("postmortem_within_s")),
                # An emergency pages through quiet hours; older servers do not send the flag.
                "yes" if level.get("emergency") else "no",
                escape(level["description"]),
            )
        out.print(grid)
        out.print()


def roles_table(roles: list[Json]) -> None:
    grid = table("Role", "Name", "Description")
    for role in roles:
        grid.add_row(role["key"], escape(role["name"]), escape(role["description"]))
    console().print(grid)


# ---- alerts ----------------------------------------------------------------


def alert_severity(alert: Json) -> str:
    # The Tocsin level once routed; the sender's own word is kept next to it.
    level, said = alert.get("severity"), alert.get("sender_severity")
    if level and said and said != level:
        return f"{level} ({said})"
    return str(level or said or NONE)


def alert_outcome(alert: Json) -> str:
    if alert.get("incident"):
        return str(alert["incident"])
    held = alert.get("held_by")
    if held == "low urgency":
        return "low urgency"
    return f"held: {held}" if held else NONE


def alerts_table(page: Json, reference: datetime) -> None:
    out = console()
    items: list[Json] = page["items"]
    if not items:
        out.print("No alerts match.")
        return
    grid = table("Id", "Status", "Sev", "Service", "Summary", "Count", "Last seen", "Incident", keys=2)
    for alert in items:
        grid.add_row(
            str(alert["id"]),
            alert["status"],
            escape(alert_severity(alert)),
            escape(alert["service"]),
            escape(alert["summary"]),
            str(alert["count"]),
            when(alert["last_seen"], relative_to=reference),
            escape(alert_outcome(alert)),
        )
    out.print(grid)
    _page_footer(out, page, len(items))


def incident_alerts_table(ref: str, alerts: list[Json]) -> None:
    out = console()
    if not alerts:
        out.print(f"{escape(ref)} has no alerts; it was declared by hand.")
        return
    grid = table("Id", "Status", "Sev", "Summary", "Count", "First seen", "Dedup key", keys=2)
    for alert in alerts:
        grid.add_row(
            str(alert["id"]),
            alert["status"],
            escape(alert_severity(alert)),
            escape(alert["summary"]),
            str(alert["count"]),
            when(alert["first_seen"]),
            escape(alert["dedup_key"]),
        )
    out.print(grid)


def _raw_payload(raw: str) -> str:
    # Indented when it is JSON, so a payload on one long line can be read; otherwise as received.
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except ValueError:
        return raw


def show_alert(alert: Json, reference: datetime) -> None:
    out = console()
    out.print(f"[bold]Alert {alert['id']}[/bold]  {escape(alert_severity(alert))} · {alert['status']}")
    out.print(escape(alert["summary"]))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column(overflow="fold")
    facts.add_row("Service", escape(alert["service"]))
    facts.add_row("Integration", escape(alert["integration"]))
    facts.add_row("Dedup key", escape(alert["dedup_key"]))
    facts.add_row("Urgency", alert["urgency"])
    if alert["source"]:
        facts.add_row("Source", escape(alert["source"]))
    facts.add_row("Incident", escape(alert["incident"] or NONE))
    if alert.get("held_by"):
        facts.add_row("Held by", escape(alert["held_by"]))
    facts.add_row("Seen", f"{alert['count']} time{'s' if alert['count'] != 1 else ''}")
    facts.add_row("First seen", when(alert["first_seen"], relative_to=reference))
    facts.add_row("Last seen", when(alert["last_seen"], relative_to=reference))
    for label, key in (("Acknowledged", "acknowledged_at"), ("Resolved", "resolved_at")):
        if alert.get(key):
            facts.add_row(label, when(alert[key], relative_to=reference))
    out.print(facts)
    if alert["labels"]:
        out.print("\n[dim]Labels[/dim]")
        for name, value in sorted(alert["labels"].items()):
            out.print(escape(f"  {name}={value}"), soft_wrap=True)
    if alert["links"]:
        out.print("\n[dim]Links[/dim]")
        for link in alert["links"]:
            href, text = (link.get("href", ""), link.get("text", "")) if isinstance(link, dict) else (str(link), "")
            out.print(escape(f"  {href}" + (f"  ({text})" if text else "")), soft_wrap=True)
    if alert["details"]:
        out.print("\n[dim]Details[/dim]")
        out.print(escape(json.dumps(alert["details"], indent=2, ensure_ascii=False)), soft_wrap=True)
    if alert.get("raw"):
        out.print("\n[dim]Raw payload[/dim]")
        out.print(escape(_raw_payload(alert["raw"])), soft_wrap=True)


def event_result(action: str, answer: Json) -> str:
    """One line on what the server made of an event, from `POST /api/v1/events`."""
    key, alert, result = answer["dedup_key"], answer.get("alert_id"), answer["result"]
    if result == "ignored":
        return f"Nothing to {action}: no firing alert has dedup key {key}."
    if result == "dropped":
        return f"Dropped by a routing rule of the service; nothing stored (dedup key {key})."
    said = {
        "created": f"Created alert {alert}",
        "repeated": f"Alert {alert} fired again",
        "acknowledged": f"Acknowledged alert {alert}",
        "resolved": f"Resolved alert {alert}",
    }.get(result, f"{result.capitalize()} alert {alert}")
    message = f"{said} (dedup key {key})"
    held = answer.get("held_by")
    if held == "low urgency":
        message += "; low urgency: recorded, nobody paged"
    elif held:
        message += f"; held by maintenance window {held!r}: recorded, nobody paged"
    elif answer.get("incident"):
        message += f"; incident {answer['incident']}"
    message += "."
    if result == "created":
        message += f"\nResolve it with: tocsin event resolve --dedup-key {key}"
    return message


# ---- integrations ------------------------------------------------------------

# What each entry of an integration's `urls` is for, as its users name it.


def settings_text(settings: Json) -> str:
    parts = []
    if settings.get("group_by"):
        parts.append(f"group by {', '.join(settings['group_by'])}")
    if "group_window_s" in settings:
        parts.append(f"window {duration(settings['group_window_s'])}")
    if settings.get("auto_resolve"):
        parts.append(f"auto-resolve {settings['auto_resolve']}")
    if settings.get("default_severity"):
        parts.append(f"default {settings['default_severity']}")
    return "; ".join(parts) or NONE


def created_integration(created: Json) -> None:
    out = console()
    say(f"Created integration {created['name']!r} ({created['kind']}) for service {created['service']}.")
    out.print("\n[bold]Integration key[/bold] (shown only now; keep it like a password):")
    say(f"  {created['key']}")
    urls: dict[str, str] = created["urls"]
    # The server puts this integration's own format first.
    own = created["kind"] if created["kind"] in urls else next(iter(urls), None)
    if own is not None:
        out.print(f"\n[bold]Paste into {escape(TOOLS.get(own, own))}:[/bold]")
        say(f"  {urls[own]}")
    others = [(tool, url) for tool, url in urls.items() if tool != own]
    if others:
        out.print("\nThe same key works for the other formats:")
        for tool, url in others:
            say(f"  {TOOLS.get(tool, tool)}:")
            say(f"    {url}")


def integrations_table(integrations: list[Json]) -> None:
    if not integrations:
        console().print("No integrations yet; add one with `tocsin integration create`.")
        return
    grid = table("Id", "Service", "Kind", "Name", "Key", "Settings", "State", keys=2)
    for row in integrations:
        grid.add_row(
            str(row["id"]),
            escape(row["service"]),
            row["kind"],
            escape(row["name"]),
            f"{row['key_prefix']}…",
            escape(settings_text(row["settings"])),
            "disabled" if row["disabled"] else "active",
        )
    console().print(grid)


# ---- routing rules and maintenance windows ------------------------------------


def rule_actions(rule: Json) -> str:
    then = ["drop"] if rule["drop"] else []
    if rule.get("severity"):
        then.append(f"severity {rule['severity']}")
    if rule.get("route_to"):
        then.append(f"route to {rule['route_to']}")
    if rule.get("urgency"):
        then.append(f"urgency {rule['urgency']}")
    return ", ".join(then) or "no change"


def rule_text(rule: Json) -> str:
    """`when severity="critical": severity P0, then later rules`."""
    text = f"when {', '.join(rule['matchers']) or 'any alert'}: {rule_actions(rule)}"
    return text + ", then later rules" if rule.get("continue") else text


def rules_table(service: str, rules: list[Json]) -> None:
    if not rules:
        console().print(f"{escape(service)} has no routing rules; alerts keep the sender's severity.")
        return
    grid = table("Id", "Pos", "When", "Then", "Continue", keys=2)
    for rule in rules:
        grid.add_row(
            str(rule["id"]),
            str(rule["position"]),
            escape(", ".join(rule["matchers"]) or "any alert"),
            escape(rule_actions(rule)),
            "yes" if rule.get("continue") else "no",
        )
    console().print(grid)


def window_text(window: Json) -> str:
    scope = f"on {window['service']}" if window["service"] else "on every service"
    matching = f" for alerts matching {', '.join(window['matchers'])}" if window["matchers"] else ""
    length = between(window["starts_at"], window["ends_at"])
    return f"{window['name']} {scope}{matching}, {when(window['starts_at'])} to {when(window['ends_at'])} ({length})"


def window_state(window: Json, reference: datetime) -> str:
    starts, ends = parse_time(window["starts_at"]), parse_time(window["ends_at"])
    if ends is not None and ends <= reference:
        return "ended"
    if starts is not None and starts > reference:
        return f"starts {age(starts, reference)}"
    return f"on, ends {age(ends, reference)}" if ends is not None else "on"


def windows_table(windows: list[Json], reference: datetime) -> None:
    if not windows:
        console().print("No maintenance windows on or to come; add one with `tocsin maintenance add`.")
        return
    grid = table("Id", "Name", "Service", "Matching", "Starts", "Ends", "State", "By", keys=1)
    for window in windows:
        grid.add_row(
            str(window["id"]),
            escape(window["name"]),
            escape(window["service"] or "all"),
            escape(joined(window["matchers"])),
            when(window["starts_at"]),
            when(window["ends_at"]),
            window_state(window, reference),
            escape(window["created_by"]),
        )
    console().print(grid)


# ---- changes -----------------------------------------------------------------


def changes_table(changes: list[Json], reference: datetime, *, title: str | None = None) -> None:
    out = console()
    if not changes:
        out.print("No changes." if title is None else f"{title}: none.")
        return
    grid = table("When", "Service", "Environment", "Version", "Status", "Summary", keys=1)
    if title is not None:
        grid.title = title
    for change in changes:
        grid.add_row(
            when(change["occurred_at"], relative_to=reference),
            escape(change["service"] or NONE),
            escape(change["environment"] or NONE),
            escape(change["version"] or NONE),
            escape(change["status"] or NONE),
            escape(change["summary"]) + (f"\n[dim]{escape(change['url'])}[/dim]" if change.get("url") else ""),
        )
    out.print(grid)


def incident_changes(answer: Json, reference: datetime) -> None:
    hours = between(answer["since"], answer["until"]) or "the hours"
    changes_table(answer["items"], reference, title=f"Changes to its services in the {hours} before it")
