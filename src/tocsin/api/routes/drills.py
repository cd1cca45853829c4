"""Drills: start a practice incident from a scenario, follow it, read its report (docs/drills.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from tocsin.api.deps import CurrentClock, DbSession, Reader, State, Writer
from tocsin.api.schemas import Body
from tocsin.domain import drills as domain
from tocsin.services import drills
from tocsin.services.drill_scenarios import SCENARIOS
from tocsin.storage import models

router = APIRouter(prefix="/api/v1/drills", tags=["drills"])


class StartDrill(Body):
    scenario: str = Field(min_length=1, max_length=50, description="database-outage, payment-provider-outage, …")
    service: str | None = Field(
        default=None, min_length=1, max_length=100, description="Left out: the first service with a policy"
    )


class ScenarioOut(BaseModel):
    key: str
    title: str
    description: str


class MeasureOut(BaseModel):
    milestone: str
    at: datetime | None
    took_s: int | None
    target_s: int | None
    verdict: str

    @classmethod
    def of(cls, measure: domain.Measure) -> MeasureOut:
        return cls(
            milestone=measure.milestone.value,
            at=measure.at,
            took_s=None if measure.took is None else int(measure.took.total_seconds()),
            target_s=None if measure.target is None else int(measure.target.total_seconds()),
            verdict=measure.verdict.value,
        )


class ReportOut(BaseModel):
    started_at: datetime
    ended_at: datetime | None
    met: int
    missed: int
    measures: list[MeasureOut]
    roles: dict[str, int]  # role → seconds after the start it was first assigned

    @classmethod
    def of(cls, report: domain.Report) -> ReportOut:
        return cls(
            started_at=report.started_at,
            ended_at=report.ended_at,
            met=report.met,
            missed=report.missed,
            measures=[MeasureOut.of(m) for m in report.measures],
            roles={role: int(took.total_seconds()) for role, took in report.roles.items()},
        )


class DrillOut(BaseModel):
    id: int
    scenario: str
    service: str
    started_by: str
    started_at: datetime
    incident: str | None
    incident_status: str | None
    severity: str | None
    finished_at: datetime | None
    state: str
    report: ReportOut | None = None

    @classmethod
    def of(cls, drill: models.Drill, report: domain.Report | None = None) -> DrillOut:
        incident = drill.incident
        return cls(
            id=drill.id,
            scenario=drill.scenario,
            service=drill.service.key,
            started_by=drill.started_by,
            started_at=drill.started_at,
            incident=incident.human_id if incident else None,
            incident_status=incident.status if incident else None,
            severity=incident.severity if incident else None,
            finished_at=drill.finished_at,
            state=drill.state,
            report=ReportOut.of(report) if report is not None else None,
        )


def _synced(session: Session, now: datetime) -> None:
    # A drill whose incident was resolved or canceled since the last look ends now; its end
    # time is the incident's, so reading first and recording later changes nothing.
    if drills.sync(session, now):
        session.commit()


@router.get("/scenarios", response_model=list[ScenarioOut])
def list_scenarios(_actor: Reader) -> list[ScenarioOut]:
    return [ScenarioOut(key=s.key.value, title=s.title, description=s.description) for s in SCENARIOS.values()]


@router.get("", response_model=list[DrillOut])
def list_drills(
    _actor: Reader,
    session: DbSession,
    clock: CurrentClock,
    state: Annotated[str | None, Query(description="running, finished or canceled")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DrillOut]:
    """Drills, newest first."""
    _synced(session, clock.now())
    return [DrillOut.of(drill) for drill in drills.list_drills(session, limit=limit, state=state)]


@router.post("", status_code=201, response_model=DrillOut)
def start_drill(body: StartDrill, actor: Writer, session: DbSession, clock: CurrentClock, state: State) -> DrillOut:
    """Fire the scenario's signals at the service: a drill incident is declared and its on-call person paged."""
    drill = drills.start(session, actor, clock.now(), scenario=body.scenario, service_key=body.service)
    session.commit()
    # The page is due now: the engine sends it at once instead of at its next interval.
    if state.wake_engine is not None:
        state.wake_engine()
    return DrillOut.of(drill, drills.report(session, drill, clock.now()))


@router.get("/{drill_id}", response_model=DrillOut)
def show_drill(drill_id: int, _actor: Reader, session: DbSession, clock: CurrentClock) -> DrillOut:
    """The drill and its report: each milestone's time against the severity's target."""
    _synced(session, clock.now())
    drill = drills.get(session, drill_id)
    return DrillOut.of(drill, drills.report(session, drill, clock.now()))


@router.post("/{drill_id}/stop", response_model=DrillOut)
def stop_drill(drill_id: int, actor: Writer, session: DbSession, clock: CurrentClock) -> DrillOut:
    """Stop a running drill: its incident is canceled and paging stops."""
    drill = drills.stop(session, actor, clock.now(), drill_id)
    session.commit()
    return DrillOut.of(drill, drills.report(session, drill, clock.now()))
