"""Team channels and their routes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tocsin.storage.models import Channel, Service


def channel_by_name(session: Session, name: str) -> Channel | None:
    return session.scalar(select(Channel).where(Channel.name == name).options(selectinload(Channel.routes)))


def list_channels(session: Session) -> Sequence[Channel]:
    return session.scalars(select(Channel).options(selectinload(Channel.routes)).order_by(Channel.name)).all()


def service_keys(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {row.id: row.key for row in session.execute(select(Service.id, Service.key).where(Service.id.in_(wanted)))}
