"""Queries for postmortems, their reviewers, action items and the rows owed about them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tocsin.domain.action_items import FINISHED
from tocsin.storage.models import (
    ActionItem,
    ActionItemReminder,
    ActionItemSync,
    Incident,
    MessageTemplate,
    Postmortem,
    PostmortemReviewer,
)


def template(session: Session, key: str) -> MessageTemplate | None:
    return session.scalar(select(MessageTemplate).where(MessageTemplate.key == key))


def postmortem_of(session: Session, incident_id: int) -> Postmortem | None:
    return session.scalar(
        select(Postmortem)
        .where(Postmortem.incident_id == incident_id)
        .options(selectinload(Postmortem.reviewers).selectinload(PostmortemReviewer.user))
    )


def list_postmortems(
    session: Session, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[Sequence[Postmortem], int]:
    query = select(Postmortem)
    if status is not None:
        query = query.where(Postmortem.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(
            selectinload(Postmortem.incident),
            selectinload(Postmortem.reviewers).selectinload(PostmortemReviewer.user),
        )
        .order_by(Postmortem.created_at.desc(), Postmortem.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


@dataclass(frozen=True)
class ItemFilter:
    incident_id: int | None = None
    owner_id: int | None = None
    statuses: frozenset[str] | None = None
    overdue_at: datetime | None = None  # only items still open and due by then


def list_action_items(
    session: Session, filters: ItemFilter, *, limit: int = 100, offset: int = 0
) -> tuple[Sequence[ActionItem], int]:
    query = select(ActionItem)
    if filters.incident_id is not None:
        query = query.where(ActionItem.incident_id == filters.incident_id)
    if filters.owner_id is not None:
        query = query.where(ActionItem.owner_id == filters.owner_id)
    if filters.statuses is not None:
        query = query.where(ActionItem.status.in_(filters.statuses))
    if filters.overdue_at is not None:
        query = query.where(
            ActionItem.status.not_in([s.value for s in FINISHED]), ActionItem.due_at <= filters.overdue_at
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(ActionItem.owner), selectinload(ActionItem.incident))
        .order_by(ActionItem.due_at, ActionItem.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


def action_items_of(session: Session, incident_id: int) -> Sequence[ActionItem]:
    return list_action_items(session, ItemFilter(incident_id=incident_id), limit=1000)[0]


def action_item(session: Session, item_id: int) -> ActionItem | None:
    return session.scalar(
        select(ActionItem)
        .where(ActionItem.id == item_id)
        .options(selectinload(ActionItem.owner), selectinload(ActionItem.incident))
    )


def reminders_of(session: Session, item_id: int) -> Sequence[ActionItemReminder]:
    return session.scalars(
        select(ActionItemReminder).where(ActionItemReminder.action_item_id == item_id).order_by(ActionItemReminder.id)
    ).all()


def sync_of(session: Session, item_id: int, operation: str) -> ActionItemSync | None:
    return session.scalar(
        select(ActionItemSync).where(ActionItemSync.action_item_id == item_id, ActionItemSync.operation == operation)
    )


def syncs_of(session: Session, item_id: int) -> Sequence[ActionItemSync]:
    return session.scalars(
        select(ActionItemSync).where(ActionItemSync.action_item_id == item_id).order_by(ActionItemSync.id)
    ).all()


def incident_ids_with_postmortems(session: Session, incident_ids: Sequence[int]) -> set[int]:
    if not incident_ids:
        return set()
    return set(session.scalars(select(Postmortem.incident_id).where(Postmortem.incident_id.in_(incident_ids))))


def incident(session: Session, incident_id: int) -> Incident | None:
    return session.get(Incident, incident_id)
