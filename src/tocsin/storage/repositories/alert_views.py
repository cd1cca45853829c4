"""Read queries for the alert pages.

The list is paged without a total: counting a storm's alerts on every page view would
read them all, while `limit + 1` rows say whether there is a next page. Newest first on
ix_alerts_last_seen, ix_alerts_service_status for one service, ix_alerts_incident for one
incident."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.models import Alert, Incident, Integration


@dataclass(frozen=True)
class AlertFilter:
    status: str | None = None
    service_id: int | None = None
    integration_id: int | None = None
    incident_id: int | None = None


def list_alerts(session: Session, filters: AlertFilter, *, limit: int, offset: int) -> tuple[Sequence[Alert], bool]:
    """A page of alerts, last seen first, and whether more follow."""
    query = select(Alert).options(joinedload(Alert.service), joinedload(Alert.integration))
    if filters.status:
        query = query.where(Alert.status == filters.status)
    if filters.service_id is not None:
        query = query.where(Alert.service_id == filters.service_id)
    if filters.integration_id is not None:
        query = query.where(Alert.integration_id == filters.integration_id)
    if filters.incident_id is not None:
        query = query.where(Alert.incident_id == filters.incident_id)  # ix_alerts_incident
    rows = session.scalars(
        query.order_by(Alert.last_seen.desc(), Alert.id.desc()).limit(limit + 1).offset(offset)
    ).all()
    return rows[:limit], len(rows) > limit


def incident_ids(session: Session, ids: set[int]) -> dict[int, str]:
    """Incident id → human id, for a page of alerts (one query)."""
    if not ids:
        return {}
    rows = session.execute(select(Incident.id, Incident.human_id).where(Incident.id.in_(ids)))
    return {incident_id: human_id for incident_id, human_id in rows}


def integrations(session: Session) -> Sequence[Integration]:
    """Every integration with its service, for the list's filter (a few per service)."""
    return session.scalars(
        select(Integration).options(joinedload(Integration.service)).order_by(Integration.name, Integration.id)
    ).all()
