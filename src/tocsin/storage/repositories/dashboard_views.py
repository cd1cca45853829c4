"""Read queries for the dashboard's cards that are not about incidents: what is failing
and who the on-call e-mails are. Each is bounded by a limit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.models import Check, Heartbeat, User


def failing_checks(session: Session, limit: int) -> Sequence[Check]:
    return session.scalars(
        select(Check)
        .options(joinedload(Check.service))
        .where(Check.status == "down")
        .order_by(Check.last_result_at.desc(), Check.id)
        .limit(limit)
    ).all()


def heartbeats_past_due(session: Session, now: datetime, limit: int) -> Sequence[Heartbeat]:
    """Down heartbeats, and the up ones that may be late: a late heartbeat's `next_due_at`
    is at most its grace away (expected + grace), so `next_due_at <= now + the largest
    grace` finds them all on its index; the caller reads the status off the clock."""
    largest_grace = session.scalar(select(Heartbeat.grace_s).order_by(Heartbeat.grace_s.desc()).limit(1)) or 0
    return session.scalars(
        select(Heartbeat)
        .options(joinedload(Heartbeat.service))
        .where(
            or_(
                Heartbeat.status == "down",
                (Heartbeat.status == "up") & (Heartbeat.next_due_at <= now + timedelta(seconds=largest_grace)),
            )
        )
        .order_by(Heartbeat.next_due_at, Heartbeat.id)
        .limit(limit)
    ).all()


def user_names(session: Session, emails: Collection[str]) -> dict[str, str]:
    if not emails:
        return {}
    rows = session.execute(select(User.email, User.name).where(User.email.in_(set(emails))))
    return {email: name for email, name in rows}
