from __future__ import annotations

from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.services import runbooks
from tocsin.storage import models


def test_coverage_names_the_services_a_runbook_applies_to(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    assert runbooks.coverage(session) == ([], ["api", "web"])
    session.add(
        models.Runbook(
            key="api-outage",
            name="API outage",
            services=["api"],
            severities=None,
            links=[],
            phases=[{"name": "first", "items": [{"text": "look"}]}],
            managed=False,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    session.flush()
    assert runbooks.coverage(session) == (["api"], ["web"])
