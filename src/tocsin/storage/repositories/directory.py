"""Users, teams and services."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tocsin.storage.models import Service, Team, TeamMember, User


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def list_users(session: Session, *, include_inactive: bool = False) -> Sequence[User]:
    query = select(User).order_by(User.email)
    if not include_inactive:
        query = query.where(User.active.is_(True))
    return session.scalars(query).all()


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def count_active_admins(session: Session) -> int:
    query = select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True))
    return session.scalar(query) or 0


def team_by_key(session: Session, key: str) -> Team | None:
    return session.scalar(select(Team).where(Team.key == key))


def list_teams(session: Session) -> Sequence[Team]:
    return session.scalars(select(Team).order_by(Team.key)).all()


def service_by_key(session: Session, key: str) -> Service | None:
    return session.scalar(select(Service).where(Service.key == key))


def list_services(session: Session, *, include_archived: bool = False) -> Sequence[Service]:
    query = select(Service).order_by(Service.key)
    if not include_archived:
        query = query.where(Service.archived_at.is_(None))
    return session.scalars(query).all()


def list_teams_with_members(session: Session) -> Sequence[Team]:
    return session.scalars(
        select(Team).options(selectinload(Team.members).selectinload(TeamMember.user)).order_by(Team.key)
    ).all()


def services_of_team(session: Session, team_id: int) -> Sequence[Service]:
    return session.scalars(select(Service).where(Service.team_id == team_id).order_by(Service.key)).all()
