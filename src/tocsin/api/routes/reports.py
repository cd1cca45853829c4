"""The incident report: `GET /api/v1/reports?since=90d` (JSON) and `/api/v1/reports.csv`.

Any token reads it (the figures are about incidents every viewer already sees)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from tocsin.api.deps import CurrentClock, DbSession, Reader
from tocsin.domain.analytics import Report
from tocsin.services import analytics

router = APIRouter(prefix="/api/v1", tags=["reports"])

Drills = Annotated[bool, Query(description="Count drills too (left out by default)")]

Since = Annotated[
    str,
    Query(max_length=20, description="How far back from now, by declaration time: 90d, 36h, 1d12h (at most 366d)"),
]


@router.get("/reports", response_model=Report)
def report(
    _actor: Reader,
    session: DbSession,
    clock: CurrentClock,
    since: Since = analytics.DEFAULT_SINCE,
    drills: Drills = False,
) -> Report:
    """MTTA, time to mitigate and MTTR by severity, service, team and month; response-target
    compliance; pages per person. Drills and canceled incidents are left out (docs/analytics.md)."""
    return analytics.report(session, clock.now(), analytics.parse_since(since), drills=drills)


@router.get("/reports.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def report_csv(
    _actor: Reader,
    session: DbSession,
    clock: CurrentClock,
    since: Since = analytics.DEFAULT_SINCE,
    drills: Drills = False,
) -> Response:
    """The same report, one figure a row: section, group, metric, value."""
    made = analytics.report(session, clock.now(), analytics.parse_since(since), drills=drills)
    return Response(
        analytics.csv_text(made),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{analytics.csv_filename(made)}"'},
    )
