"""The reports page: incident analytics over a window (MTTA and MTTR by month, pages per person,
target compliance, the breakdowns) and its CSV download (`/reports.csv`, the API's export
for a logged-in browser)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.domain import analytics as domain
from tocsin.errors import ValidationFailed
from tocsin.services import analytics
from tocsin.web.auth import Viewer, mark_web
from tocsin.web.charts import Series, bar_chart
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

WINDOWS = (("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"), ("180d", "180 days"), ("365d", "a year"))


def _month_label(key: str) -> str:
    return datetime.strptime(key, "%Y-%m").strftime("%b %Y")


def charts(report: domain.Report) -> dict[str, Markup]:
    months = [_month_label(group.key) for group in report.by_month]
    people = [load.name for load in report.load]
    return {
        "acknowledge": bar_chart(
            months,
            [Series("MTTA", [round(domain.minutes(g.acknowledge.median_s), 1) for g in report.by_month])],
            label="Median time to acknowledge by month",
            unit="min",
        ),
        "resolve": bar_chart(
            months,
            [Series("MTTR", [round(domain.hours(g.resolve.median_s), 2) for g in report.by_month], "var(--p1)")],
            label="Median time to resolve by month",
            unit="h",
        ),
        "pages": bar_chart(
            people,
            [
                Series("Working hours", [load.pages - load.outside_hours for load in report.load]),
                Series("Outside working hours", [load.outside_hours for load in report.load], "var(--bad)"),
            ],
            label="Pages per person",
        ),
    }


@router.get("/reports")
def reports_page(
    request: Request, user: Viewer, session: DbSession, clock: CurrentClock, since: str = "90d", drills: bool = False
) -> Response:
    problem = None
    try:
        window = analytics.parse_since(since)
    except ValidationFailed as exc:
        problem, since = exc.message, analytics.DEFAULT_SINCE
        window = analytics.parse_since(since)
    report = analytics.report(session, clock.now(), window, drills=drills)
    context = {
        "user": user,
        "nav_active": "/reports",
        "report": report,
        "charts": charts(report),
        "since": since,
        "windows": WINDOWS,
        "problem": problem,
        "no_service": domain.NO_SERVICE,
    }
    return templates.TemplateResponse(request, "reports/page.html", context, status_code=422 if problem else 200)


@router.get("/reports.csv")
def reports_csv(
    _user: Viewer, session: DbSession, clock: CurrentClock, since: str = "90d", drills: bool = False
) -> Response:
    made = analytics.report(session, clock.now(), analytics.parse_since(since), drills=drills)
    return Response(
        analytics.csv_text(made),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{analytics.csv_filename(made)}"'},
    )
