"""Read queries of the on-call pages (web/oncall.py): schedules and escalation policies a
page at a time, and what their rows name (users, teams, services) in one query each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tocsin.storage.models import (
    EscalationPolicy,
    Schedule,
    ScheduleOverride,
    Service,
    Team,
    TeamMember,
    User,
)

# The schedule maths needs a schedule whole: layers and overrides, one round trip each.
_WHOLE_SCHEDULE = (
    selectinload(Schedule.layers),
    selectinload(Schedule.overrides).selectinload(ScheduleOverride.user),
)


def schedules(session: Session, limit: int, offset: int) -> Sequence[Schedule]:
    query = select(Schedule).options(*_WHOLE_SCHEDULE).order_by(Schedule.key).limit(limit).offset(offset)
    return session.scalars(query).all()


def schedules_by_keys(session: Session, keys: Iterable[str]) -> dict[str, Schedule]:
    wanted = set(keys)
    if not wanted:
        return {}
    rows = session.scalars(select(Schedule).where(Schedule.key.in_(wanted)).options(*_WHOLE_SCHEDULE)).all()
    return {row.key: row for row in rows}


def names_by_email(session: Session, emails: Iterable[str]) -> dict[str, str]:
    """User names keyed by e-mail as stored (schedules keep the stored spelling)."""
    wanted = set(emails)
    if not wanted:
        return {}
    rows = session.execute(select(User.email, User.name).where(User.email.in_(wanted))).all()
    return {email: name for email, name in rows}


def users_by_emails(session: Session, emails: Iterable[str]) -> dict[str, User]:
    """Keyed by the lowercased e-mail: a policy names users as people typed them."""
    lowered = {email.lower() for email in emails}
    if not lowered:
        return {}
    rows = session.scalars(select(User).where(func.lower(User.email).in_(lowered))).all()
    return {row.email.lower(): row for row in rows}


def policies(session: Session, limit: int, offset: int) -> Sequence[EscalationPolicy]:
    query = (
        select(EscalationPolicy)
        .options(selectinload(EscalationPolicy.levels))
        .order_by(EscalationPolicy.key)
        .limit(limit)
        .offset(offset)
    )
    return session.scalars(query).all()


def services_by_policy(session: Session, policy_ids: Iterable[int]) -> dict[int, list[Service]]:
    ids = set(policy_ids)
    if not ids:
        return {}
    found: dict[int, list[Service]] = {}
    query = select(Service).where(Service.escalation_policy_id.in_(ids)).order_by(Service.key)
    for service in session.scalars(query):
        assert service.escalation_policy_id is not None
        found.setdefault(service.escalation_policy_id, []).append(service)
    return found


def teams_by_keys(session: Session, keys: Iterable[str]) -> dict[str, Team]:
    wanted = set(keys)
    if not wanted:
        return {}
    query = select(Team).where(Team.key.in_(wanted)).options(selectinload(Team.members).selectinload(TeamMember.user))
    return {team.key: team for team in session.scalars(query)}


def active_people(session: Session, limit: int = 500) -> list[tuple[str, str]]:
    """(e-mail, name) of active users by name, for the override form's choice of person."""
    query = select(User.email, User.name).where(User.active.is_(True)).order_by(User.name, User.email).limit(limit)
    return [(email, name) for email, name in session.execute(query).all()]
