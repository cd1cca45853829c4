"""Web sessions, found by the hash of their cookie's secret."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.models import WebSession


def session_by_hash(session: Session, token_hash: str) -> WebSession | None:
    return session.scalar(
        select(WebSession).options(joinedload(WebSession.user)).where(WebSession.token_hash == token_hash)
    )


def delete_by_hash(session: Session, token_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


def delete_for_user(session: Session, user_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


def delete_expired(session: Session, now: datetime) -> int:
    result = session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
