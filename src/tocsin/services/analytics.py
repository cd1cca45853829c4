"""The incident report: `tocsin report`, `/api/v1/reports`, the /reports page and its CSV.

Reads only; the figures are domain.analytics', the queries storage.repositories.analytics'.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tocsin.config_file.durations import parse_duration
from tocsin.domain import analytics as domain
from tocsin.errors import ValidationFailed
from tocsin.storage.repositories import analytics as repo
from tocsin.storage.repositories import severities as severity_repo

DEFAULT_SINCE = "90d"


def parse_since(value: str) -> timedelta:
    """How far back the report looks, written as in config files (`90d`, `36h`), up to 366 days."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="since") from None


def _severity_names(session: Session) -> list[str]:
    scheme = severity_repo.active_scheme(session)
    return [] if scheme is None else [level.name for level in scheme.levels]


def report(session: Session, now: datetime, since: timedelta, *, drills: bool = False) -> domain.Report:
    """Drills are left out unless `drills` (a team measuring its practice with the real figures)."""
    start = now - since
    return domain.build_report(
        since=start,
        until=now,
        incidents=repo.incident_times(session, start, now, drills=drills),
        severities=_severity_names(session),
        targets=repo.target_counts(session, start, now, drills=drills),
        pages=repo.pages(session, start, now, drills=drills),
        action_items=domain.action_item_figures(repo.action_item_counts(session, start, now, now, drills=drills)),
        drills=drills,
    )


def csv_text(report: domain.Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(domain.CSV_HEADER)
    writer.writerows(domain.csv_rows(report))
    return out.getvalue()


def csv_filename(report: domain.Report) -> str:
    return f"tocsin-report-{report.since:%Y-%m-%d}-to-{report.until:%Y-%m-%d}.csv"
