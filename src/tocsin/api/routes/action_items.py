"""Action items: viewers read, responders add, edit and finish them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from tocsin.api.deps import CurrentClock, DbSession, Reader, State, Writer
from tocsin.api.postmortem_schemas import ActionItemOut, CreateActionItem, EditActionItem
from tocsin.api.schemas import Page
from tocsin.clock import Clock
from tocsin.services import action_items

router = APIRouter(prefix="/api/v1/action-items", tags=["action items"])


def _out(session: Session, item_id: int, clock: Clock) -> ActionItemOut:
    session.expire_all()
    item = action_items.get(session, item_id)
    return ActionItemOut.of(item, action_items.is_overdue(item, clock.now()))


@router.get("", response_model=Page[ActionItemOut])
def list_items(
    _actor: Reader,
    session: DbSession,
    clock: CurrentClock,
    incident: str | None = None,
    owner: Annotated[str | None, Query(description="E-mail of the owner")] = None,
    status: Annotated[str | None, Query(description="open (default), all, or statuses separated by commas")] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Page[ActionItemOut]:
    now = clock.now()
    rows, total = action_items.list_items(
        session, now, incident=incident, owner=owner, status=status, overdue=overdue, limit=limit, offset=offset
    )
    items = [ActionItemOut.of(r, action_items.is_overdue(r, now)) for r in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post("", status_code=201, response_model=ActionItemOut)
def add(body: CreateActionItem, actor: Writer, session: DbSession, clock: CurrentClock, state: State) -> ActionItemOut:
    item = action_items.add(
        session,
        actor,
        clock.now(),
        body.incident,
        title=body.title,
        priority=body.priority,
        owner=body.owner,
        due_at=body.due_at,
        description=body.description,
        sync=state.settings.github_sync,
    )
    session.commit()
    return _out(session, item.id, clock)


@router.get("/{item_id}", response_model=ActionItemOut)
def show(item_id: str, _actor: Reader, session: DbSession, clock: CurrentClock) -> ActionItemOut:
    return _out(session, action_items.get(session, item_id).id, clock)


@router.patch("/{item_id}", response_model=ActionItemOut)
def edit(item_id: str, body: EditActionItem, actor: Writer, session: DbSession, clock: CurrentClock) -> ActionItemOut:
    item = action_items.get(session, item_id)
    action_items.edit(
        session,
        actor,
        clock.now(),
        item,
        title=body.title,
        description=body.description,
        owner=body.owner,
        priority=body.priority,
        due_at=body.due_at,
    )
    if body.status is not None and body.status != item.status:
        action_items.change_status(session, actor, clock.now(), item, body.status)
    session.commit()
    return _out(session, item.id, clock)
