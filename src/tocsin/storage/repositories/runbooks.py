"""Runbooks, incident checklists and role briefings."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.storage.models import IncidentChecklist, IncidentChecklistItem, RoleAssignment, RoleBriefing, Runbook


def list_runbooks(session: Session) -> Sequence[Runbook]:
    return session.scalars(select(Runbook).order_by(Runbook.key)).all()


def runbook_by_key(session: Session, key: str) -> Runbook | None:
    return session.scalar(select(Runbook).where(Runbook.key == key))


def checklist_of(session: Session, incident_id: int) -> IncidentChecklist | None:
    return session.scalar(select(IncidentChecklist).where(IncidentChecklist.incident_id == incident_id))


def items_of(session: Session, incident_id: int) -> Sequence[IncidentChecklistItem]:
    return session.scalars(
        select(IncidentChecklistItem)
        .where(IncidentChecklistItem.incident_id == incident_id)
        .order_by(IncidentChecklistItem.number)
    ).all()


def item_by_number(session: Session, incident_id: int, number: int) -> IncidentChecklistItem | None:
    return session.scalar(
        select(IncidentChecklistItem).where(
            IncidentChecklistItem.incident_id == incident_id, IncidentChecklistItem.number == number
        )
    )


def briefings_of(session: Session, incident_id: int) -> Sequence[RoleBriefing]:
    return session.scalars(
        select(RoleBriefing).where(RoleBriefing.incident_id == incident_id).order_by(RoleBriefing.id)
    ).all()


def current_roles(session: Session, incident_id: int) -> Sequence[RoleAssignment]:
    return session.scalars(
        select(RoleAssignment).where(RoleAssignment.incident_id == incident_id, RoleAssignment.released_at.is_(None))
    ).all()
