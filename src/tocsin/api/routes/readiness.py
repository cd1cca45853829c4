"""The readiness audit: `GET /api/v1/audit[?team=KEY]`.

Any token reads it, viewers included: it shows how complete the setup is (which services
lack a policy, which schedule has gaps, who has no verified contact method) but no
secret, and everything it names a viewer can already list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tocsin.api.deps import CurrentClock, DbSession, Reader
from tocsin.domain.readiness import Audit
from tocsin.services import readiness

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/audit", response_model=Audit)
def audit(
    _actor: Reader,
    session: DbSession,
    clock: CurrentClock,
    team: Annotated[str | None, Query(max_length=100, description="Only this team's services")] = None,
) -> Audit:
    """Each component of the incident pipeline scored 0-100 with its evidence, the weighted
    total, and the next steps in priority order (docs/analytics.md)."""
    return readiness.audit(session, clock.now(), team)
