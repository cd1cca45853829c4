"""The incident report from the database, on SQLite and PostgreSQL: incidents moved through the
response with the clock, response targets settled, pages counted per person."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.services import analytics, incidents, targets
from tocsin.services.actor import Actor
from tocsin.storage import models

MIN = timedelta(minutes=1)
SYSTEM = Actor.system("tests")


def walk(
    session: Session,
    clock: FrozenClock,
    severity: str,
    services: tuple[str, ...],
    *,
    ack: int | None = None,
    mitigate: int | None = None,
    resolve: int | None = None,
    drill: bool = False,
) -> models.Incident:
    """Declare now and move the incident along at these minutes after; the clock ends where it began."""
    start = clock.now()
    incident = incidents.declare(
        session, SYSTEM, start, title="Checkout 500s", severity=severity, services=services, drill=drill
    )
    for minutes, status in ((ack, "acknowledged"), (mitigate, "monitoring"), (resolve, "resolved")):
        if minutes is not None:
            incidents.change_status(session, SYSTEM, start + minutes * MIN, incident, status)
    session.flush()
    return incident


def page(session: Session, incident: models.Incident, user_email: str, at: datetime, method: int, step: str) -> None:
    user = session.query(models.User).filter_by(email=user_email).one()
    session.add(
        models.Notification(
            idempotency_key=f"page:{incident.id}:{user.id}:{method}:{step}",
            incident_id=incident.id,
            user_id=user.id,
            contact_method_id=method,
            kind="page",
            channel="email",
            step=step,
            status="sent",
            due_at=at,
            sent_at=at,
            created_at=at,
        )
    )


def test_the_report_measures_response_times_targets_and_pages(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    first = walk(session, clock, "P1", ("api",), ack=4, mitigate=30, resolve=90)
    walk(session, clock, "P2", ("web",), ack=20)
    walk(session, clock, "P1", ("api",), ack=1, resolve=2, drill=True)  # a drill: left out
    canceled = walk(session, clock, "P1", ("api",))
    incidents.change_status(session, SYSTEM, clock.now(), canceled, "canceled")  # a false alarm: left out
    late = walk(session, clock, "P1", ("api", "web"))
    # Nobody acknowledges the last one within P1's 15 minutes: the engine records the miss.
    clock.advance(20 * MIN)
    targets.record_due_breaches(session, clock.now())
    # Bob is paged twice at 09:00 for the first incident (two contact methods, one step: one page),
    # then at 23:00 for the late one.
    page(session, first, "bob@example.com", clock.now(), 1, "round 1, level 1")
    page(session, first, "bob@example.com", clock.now(), 2, "round 1, level 1")
    page(session, late, "bob@example.com", clock.now().replace(hour=23), 1, "round 1, level 1")
    page(session, late, "alice@example.com", clock.now(), 3, "round 1, level 2")
    session.commit()
    clock.advance(timedelta(days=1))

    report = analytics.report(session, clock.now(), analytics.parse_since("30d"))

    assert report.incidents == 3
    p1, p2 = report.by_severity
    assert (p1.key, p1.incidents, p2.key, p2.incidents) == ("P1", 2, "P2", 1)
    assert p1.acknowledge.count == 1
    assert p1.acknowledge.median_s == 240
    assert p1.mitigate.median_s == 30 * 60
    assert p1.resolve.median_s == 90 * 60
    assert report.overall.acknowledge.median_s == 12 * 60  # 4 and 20 minutes
    assert {f.key: f.incidents for f in report.by_service} == {"api": 2, "web": 2}
    assert {f.key: f.incidents for f in report.by_team} == {"platform": 3}
    assert [(f.key, f.incidents) for f in report.by_month] == [("2026-10", 0), ("2026-11", 3)]
    acknowledge = {c.severity: c for c in report.targets if c.kind == "acknowledge"}
    assert (acknowledge["P1"].met, acknowledge["P1"].missed, acknowledge["P1"].percent) == (1, 1, 50.0)
    assert acknowledge[""].met == 2  # the P2's too
    resolve = {c.severity: c for c in report.targets if c.kind == "resolve"}
    assert (resolve["P1"].met, resolve["P1"].pending) == (1, 1)
    assert [(load.user, load.pages, load.outside_hours) for load in report.load] == [
        ("bob@example.com", 2, 1),
        ("alice@example.com", 1, 0),
    ]


def test_the_window_counts_by_declaration_and_the_csv_reads_back(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    walk(session, clock, "P2", ("api",), ack=10)
    session.commit()
    clock.advance(timedelta(days=10))
    walk(session, clock, "P2", ("api",), ack=2)
    session.commit()

    assert analytics.report(session, clock.now() + MIN, analytics.parse_since("7d")).incidents == 1
    made = analytics.report(session, clock.now() + MIN, analytics.parse_since("90d"))
    assert made.incidents == 2
    rows = list(csv.reader(io.StringIO(analytics.csv_text(made))))
    assert rows[0] == ["section", "group", "metric", "value"]
    assert ["severity", "P2", "acknowledge_mean_s", "360"] in rows
    assert analytics.csv_filename(made) == "tocsin-report-2026-09-04-to-2026-12-03.csv"


def test_the_action_items_of_the_windows_incidents_are_counted(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    incident = walk(session, clock, "P1", ("api",), ack=3)
    now = clock.now()
    for status, due in (("done", now), ("open", now - MIN), ("in_progress", now + MIN), ("wont_do", now - MIN)):
        session.add(
            models.ActionItem(
                incident_id=incident.id,
                title="Add a retry",
                priority="P1",
                status=status,
                due_at=due,
                created_at=now,
                updated_at=now,
            )
        )
    session.commit()
    items = analytics.report(session, now + MIN, analytics.parse_since("7d")).action_items
    assert items is not None
    assert (items.total, items.done, items.open, items.overdue, items.wont_do) == (4, 1, 2, 1, 1)
    assert items.percent_done == 33.3


def test_drills_are_counted_when_asked(session: Session, clock: FrozenClock, personas: Personas) -> None:
    walk(session, clock, "P2", ("api",), ack=4)
    walk(session, clock, "P2", ("api",), ack=8, drill=True)
    session.commit()
    later = clock.now() + MIN
    assert analytics.report(session, later, analytics.parse_since("1d")).overall.acknowledge.median_s == 240
    counted = analytics.report(session, later, analytics.parse_since("1d"), drills=True)
    assert (counted.incidents, counted.overall.acknowledge.median_s, counted.drills) == (2, 360, True)
