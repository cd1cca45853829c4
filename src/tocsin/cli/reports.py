"""`tocsin report` (incident analytics) and `tocsin audit` (readiness), over HTTP like the rest.

`--json` prints the server's answer as-is; `--csv FILE` saves the report's CSV export
(`-` for stdout); the tables are for people. See docs/analytics.md for what each figure means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tocsin.cli import output
from tocsin.cli.client import Json
from tocsin.cli.remote import AsJson, _server

Since = Annotated[str, typer.Option(help="How far back, by declaration time: 90d, 36h, 1d12h (at most 366d)")]


def _percent(value: float | None) -> str:
    return output.NONE if value is None else f"{value:g}%"


def _times_table(title: str, groups: list[Json]) -> None:
    grid = output.table(
        title.capitalize(), "Incidents", "MTTA median", "MTTA mean", "Mitigate median", "MTTR median", "MTTR mean"
    )
    for group in groups:
        grid.add_row(
            escape(group["key"]),
            str(group["incidents"]),
            output.duration(group["acknowledge"]["median_s"]),
            output.duration(group["acknowledge"]["mean_s"]),
            output.duration(group["mitigate"]["median_s"]),
            output.duration(group["resolve"]["median_s"]),
            output.duration(group["resolve"]["mean_s"]),
        )
    grid.title = f"By {title}"
    output.console().print(grid)


def print_report(report: Json) -> None:
    out = output.console()
    since, until = output.when(report["since"]), output.when(report["until"])
    count = f"{report['incidents']} {'incident' if report['incidents'] == 1 else 'incidents'}"
    left_out = "canceled left out, drills counted" if report.get("drills") else "drills and canceled left out"
    out.print(f"[bold]{count}[/bold] declared {since} to {until} ({left_out})")
    overall = report["overall"]
    out.print(
        f"MTTA {output.duration(overall['acknowledge']['median_s'])} median"
        f" ({output.duration(overall['acknowledge']['mean_s'])} mean, {overall['acknowledge']['count']} acknowledged);"
        f" time to mitigate {output.duration(overall['mitigate']['median_s'])} median;"
        f" MTTR {output.duration(overall['resolve']['median_s'])} median"
        f" ({output.duration(overall['resolve']['mean_s'])} mean, {overall['resolve']['count']} resolved)"
    )
    out.print()
    for title, key in (
        ("severity", "by_severity"),
        ("team", "by_team"),
        ("service", "by_service"),
        ("month", "by_month"),
    ):
        if report[key]:
            _times_table(title, report[key])
            out.print()
    if report["targets"]:
        grid = output.table("Target", "Severity", "Met", "Missed", "Running", "Met %")
        grid.title = "Response targets"
        for line in report["targets"]:
            grid.add_row(
                line["kind"],
                escape(line["severity"] or "all"),
                str(line["met"]),
                str(line["missed"]),
                str(line["pending"]),
                _percent(line["percent"]),
            )
        out.print(grid)
        out.print()
    if report["load"]:
        grid = output.table("Person", "Pages", "Outside working hours")
        grid.title = "On-call load (working hours: 09:00-18:00 Mon-Fri, the person's time zone)"
        for load in report["load"]:
            grid.add_row(escape(f"{load['name']} <{load['user']}>"), str(load["pages"]), str(load["outside_hours"]))
        out.print(grid)
    else:
        out.print("On-call load: nobody was paged.")
    items = report.get("action_items")
    if items is not None:
        out.print()
        out.print(
            f"Action items: {items['done']} of {items['total'] - items['wont_do']} done"
            f" ({_percent(items['percent_done'])}), {items['open']} open, {items['overdue']} overdue"
        )


def report(
    since: Since = "90d",
    csv: Annotated[
        str | None, typer.Option("--csv", metavar="FILE", help="Save the CSV export to FILE ('-' for stdout)")
    ] = None,
    drills: Annotated[bool, typer.Option("--drills", help="Count drills too (left out by default)")] = False,
    as_json: AsJson = False,
) -> None:
    """Incident analytics: MTTA, time to mitigate, MTTR, response-target compliance, on-call load."""
    with _server() as api:
        if csv is not None:
            text = api.text("/api/v1/reports.csv", since=since, drills=drills or None)
        wanted = csv is None or as_json
        answer: Any = api.get("/api/v1/reports", since=since, drills=drills or None) if wanted else None
    if csv is not None:
        if csv == "-":
            typer.echo(text, nl=False)
        else:
            Path(csv).write_text(text, encoding="utf-8")
            if not as_json:
                output.say(f"Saved the report's CSV to {csv}")
    if as_json:
        output.print_json(answer)
    elif csv is None:
        print_report(answer)


def _score(score: int | None) -> str:
    if score is None:
        return "[dim]n/a[/dim]"
    colour = "green" if score >= 90 else "yellow" if score >= 50 else "red"
    return f"[{colour}]{score}[/{colour}]"


def print_audit(audit: Json) -> None:
    out = output.console()
    grid = output.table("Component", "Score", "Evidence")
    grid.title = "Readiness" + (f" of team {escape(audit['team'])}" if audit["team"] else "")
    for component in audit["components"]:
        grid.add_row(escape(component["title"]), _score(component["score"]), escape("\n".join(component["evidence"])))
    out.print(grid)
    out.print()
    out.print(f"[bold]pipeline {audit['total']}% complete[/bold]")
    if audit["next_steps"]:
        out.print()
        out.print("[bold]Next steps[/bold], most valuable first:")
        for number, step in enumerate(audit["next_steps"], start=1):
            out.print(f"{number}. {escape(step['step'])} [dim](+{step['gain']:g} points)[/dim]")


def audit(
    team: Annotated[str | None, typer.Option(help="Only this team's services")] = None,
    as_json: AsJson = False,
) -> None:
    """Score the setup like an SRE review: each component 0-100, the total, and what to do next."""
    with _server() as api:
        answer: Json = api.get("/api/v1/audit", team=team)
    if as_json:
        output.print_json(answer)
    else:
        print_audit(answer)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("audit")(audit)
