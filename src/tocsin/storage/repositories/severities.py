"""Severity schemes, levels and role definitions."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tocsin.storage.models import Incident, RoleAssignment, RoleDefinition, SeverityScheme


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


def severities_in_use(session: Session, statuses: Collection[str]) -> dict[str, list[str]]:
    """Severity name → human ids of the incidents in one of `statuses` that carry it."""
    rows = session.execute(
        select(Incident.severity, Incident.human_id)
        .where(Incident.status.in_(statuses))
        .order_by(Incident.severity, Incident.human_id)
    ).all()
    found: dict[str, list[str]] = {}
    for severity, human_id in rows:
        found.setdefault(severity, []).append(human_id)
    return found


def roles_held(session: Session, statuses: Collection[str]) -> dict[str, list[str]]:
    """Role key → human ids of the incidents in one of `statuses` where someone holds it now."""
    rows = session.execute(
        select(RoleAssignment.role_key, Incident.human_id)
        .join(Incident, RoleAssignment.incident_id == Incident.id)
        .where(RoleAssignment.released_at.is_(None), Incident.status.in_(statuses))
        .distinct()
        .order_by(RoleAssignment.role_key, Incident.human_id)
    ).all()
    found: dict[str, list[str]] = {}
    for role_key, human_id in rows:
        found.setdefault(role_key, []).append(human_id)
    return found
