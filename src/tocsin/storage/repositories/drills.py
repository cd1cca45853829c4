"""Queries of drills."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.models import Drill, Service


def list_drills(session: Session, *, limit: int = 50, state: str | None = None) -> Sequence[Drill]:
    query = select(Drill).options(joinedload(Drill.service), joinedload(Drill.incident))
    if state is not None:
        query = query.where(Drill.state == state)
    return session.scalars(query.order_by(Drill.started_at.desc(), Drill.id.desc()).limit(limit)).all()


def drill_by_id(session: Session, drill_id: int) -> Drill | None:
    return session.get(Drill, drill_id, options=[joinedload(Drill.service), joinedload(Drill.incident)])


def first_service_with_policy(session: Session) -> Service | None:
    return session.scalars(
        select(Service)
        .where(Service.escalation_policy_id.is_not(None), Service.archived_at.is_(None))
        .order_by(Service.key)
        .limit(1)
    ).first()


def drill_of_incident(session: Session, incident_id: int) -> Drill | None:
    return session.scalars(select(Drill).where(Drill.incident_id == incident_id)).first()
