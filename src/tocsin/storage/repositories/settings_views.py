"""What the settings pages list: users, teams with their members, integrations, channels.

A page at a time (limit + offset, ordered by a unique indexed column), with what each
row shows loaded in the same query or one more (selectinload), never a query per row.
Asked for one more row than shown, so a page knows whether another follows.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from tocsin.storage.models import Channel, Integration, Notification, Team, TeamMember, User


def users_page(session: Session, *, offset: int, limit: int) -> Sequence[User]:
    # By e-mail, the unique index: a page is a range of it, however many people there are.
    query = select(User).order_by(User.email).offset(offset).limit(limit)
    return session.scalars(query).all()


def active_users(session: Session, *, limit: int) -> Sequence[User]:
    """For choosing team members: the e-mails a form offers (a datalist)."""
    query = select(User).where(User.active.is_(True)).order_by(User.email).limit(limit)
    return session.scalars(query).all()


def teams_page(session: Session, *, offset: int, limit: int) -> Sequence[Team]:
    query = (
        select(Team)
        .options(selectinload(Team.members).joinedload(TeamMember.user))
        .order_by(Team.key)
        .offset(offset)
        .limit(limit)
    )
    return session.scalars(query).all()


def integrations_page(
    session: Session, *, offset: int, limit: int, hidden_kinds: Sequence[str], service_id: int | None = None
) -> Sequence[Integration]:
    query = (
        select(Integration)
        .options(joinedload(Integration.service))
        .where(Integration.kind.not_in(list(hidden_kinds)))
        .order_by(Integration.id)
        .offset(offset)
        .limit(limit)
    )
    if service_id is not None:
        query = query.where(Integration.service_id == service_id)
    return session.scalars(query).all()


def channels_page(session: Session, *, offset: int, limit: int) -> Sequence[Channel]:
    query = select(Channel).options(selectinload(Channel.routes)).order_by(Channel.name).offset(offset).limit(limit)
    return session.scalars(query).all()


def test_post(session: Session, notification_id: int) -> tuple[Notification, str] | None:
    """A channel's test post and the channel's name; None for any other notification (a
    page to a person is not this page's to show)."""
    row = session.execute(
        select(Notification, Channel.name)
        .join(Channel, Channel.id == Notification.channel_id)
        .where(Notification.id == notification_id, Notification.kind == "test")
    ).first()
    return None if row is None else (row[0], row[1])
