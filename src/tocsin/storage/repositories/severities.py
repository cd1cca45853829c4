"""Severity schemes, levels and role definitions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tocsin.storage.models import RoleDefinition, SeverityScheme


def active_scheme(session: Session) -> SeverityScheme | None:
    return session.scalar(
        select(SeverityScheme).options(selectinload(SeverityScheme.levels)).where(SeverityScheme.active.is_(True))
    )


def scheme_by_name(session: Session, name: str) -> SeverityScheme | None:
    return session.scalar(
        select(SeverityScheme).options(selectinload(SeverityScheme.levels)).where(SeverityScheme.name == name)
    )


def list_schemes(session: Session) -> Sequence[SeverityScheme]:
    return session.scalars(
        select(SeverityScheme).options(selectinload(SeverityScheme.levels)).order_by(SeverityScheme.name)
    ).all()


def list_roles(session: Session) -> Sequence[RoleDefinition]:
    return session.scalars(select(RoleDefinition).order_by(RoleDefinition.position, RoleDefinition.key)).all()


def role_by_key(session: Session, key: str) -> RoleDefinition | None:
    return session.scalar(select(RoleDefinition).where(RoleDefinition.key == key))
