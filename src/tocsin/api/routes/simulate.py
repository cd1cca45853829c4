"""What-if escalation: who would be paged for an incident at a given instant, by the real engine.

The simulation writes a drill incident and its pages, so it runs in a session of
its own that is always rolled back: its rows are never committed, so no other
transaction — the deliveries engine's least of all — ever sees them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from tocsin.api.deps import DbSession, Reader, State
from tocsin.api.schemas import Body
from tocsin.services import simulate as simulator

router = APIRouter(prefix="/api/v1", tags=["paging"])


class SimulateIn(Body):
    service: str = Field(min_length=1, max_length=100)
    severity: str = Field(min_length=1, max_length=20)
    at: AwareDatetime
    horizon_minutes: int = Field(default=120, ge=1, le=int(simulator.MAX_HORIZON.total_seconds() // 60))
    time_zone: str | None = Field(
        default=None, max_length=64, description="Zone for local times; the policy's first schedule's when left out"
    )


class SimulatedPageOut(BaseModel):
    at: datetime
    local: datetime
    user_local: datetime
    user: str
    name: str
    user_zone: str
    channel: str | None
    paged: bool
    round: int
    level: int
    why: str

    @classmethod
    def of(cls, page: simulator.SimulatedPage) -> SimulatedPageOut:
        return cls(
            at=page.at,
            local=page.local,
            user_local=page.user_local,
            user=page.user,
            name=page.name,
            user_zone=page.user_zone,
            channel=page.channel,
            paged=page.paged,
            round=page.round,
            level=page.level,
            why=page.why,
        )


class SimulationOut(BaseModel):
    service: str
    severity: str
    policy: str | None
    start: datetime
    until: datetime
    time_zone: str
    pages: list[SimulatedPageOut]
    notes: list[str]


@router.post("/escalation/simulate", response_model=SimulationOut)
def simulate_escalation(body: SimulateIn, _actor: Reader, session: DbSession, state: State) -> SimulationOut:
    # The request's session only authenticated (and committed its own stamp, if any). End its
    # transaction: on SQLite it holds the one write lock the simulation's session needs.
    session.rollback()
    with state.sessions() as own:
        try:
            result = simulator.simulate(
                own,
                service_key=body.service,
                severity=body.severity,
                at=body.at,
                horizon=timedelta(minutes=body.horizon_minutes),
                public_url=state.settings.public_url,
                time_zone=body.time_zone,
            )
        finally:
            own.rollback()  # never commit: a simulation changes nothing
    return SimulationOut(
        service=result.service,
        severity=result.severity,
        policy=result.policy,
        start=result.start,
        until=result.until,
        time_zone=result.time_zone,
        pages=[SimulatedPageOut.of(page) for page in result.pages],
        notes=result.notes,
    )
