"""Schedules, escalation policies, contact methods, notification rules and quiet hours."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tocsin.storage.models import (
    ContactMethod,
    EscalationPolicy,
    NotificationRule,
    QuietHours,
    Schedule,
    ScheduleOverride,
    Service,
    User,
)

# A schedule is always used whole (layers and overrides), so load it whole in one round trip each.
_WHOLE_SCHEDULE = (
    selectinload(Schedule.layers),
    selectinload(Schedule.overrides).selectinload(ScheduleOverride.user),
)


def schedule_by_key(session: Session, key: str) -> Schedule | None:
    return session.scalar(select(Schedule).where(Schedule.key == key).options(*_WHOLE_SCHEDULE))


def list_schedules(session: Session) -> Sequence[Schedule]:
    return session.scalars(select(Schedule).options(*_WHOLE_SCHEDULE).order_by(Schedule.key)).all()


def schedule_keys(session: Session, keys: Iterable[str]) -> set[str]:
    wanted = set(keys)
    if not wanted:
        return set()
    return set(session.scalars(select(Schedule.key).where(Schedule.key.in_(wanted))).all())


def override_by_id(session: Session, schedule_id: int, override_id: int) -> ScheduleOverride | None:
    return session.scalar(
        select(ScheduleOverride).where(ScheduleOverride.id == override_id, ScheduleOverride.schedule_id == schedule_id)
    )


def users_by_emails(session: Session, emails: Iterable[str]) -> dict[str, User]:
    """Keyed by the lowercased e-mail: people type addresses in any case."""
    lowered = {email.lower() for email in emails}
    if not lowered:
        return {}
    users = session.scalars(select(User).where(func.lower(User.email).in_(lowered))).all()
    return {user.email.lower(): user for user in users}


def policy_by_key(session: Session, key: str) -> EscalationPolicy | None:
    return session.scalar(
        select(EscalationPolicy).where(EscalationPolicy.key == key).options(selectinload(EscalationPolicy.levels))
    )


def list_policies(session: Session) -> Sequence[EscalationPolicy]:
    return session.scalars(
        select(EscalationPolicy).options(selectinload(EscalationPolicy.levels)).order_by(EscalationPolicy.key)
    ).all()


def services_using_policy(session: Session, policy_id: int) -> Sequence[Service]:
    return session.scalars(select(Service).where(Service.escalation_policy_id == policy_id).order_by(Service.key)).all()


def contact_methods_of(session: Session, user_id: int) -> Sequence[ContactMethod]:
    return session.scalars(
        select(ContactMethod).where(ContactMethod.user_id == user_id).order_by(ContactMethod.name)
    ).all()


def contact_methods_of_users(session: Session, user_ids: Iterable[int]) -> Sequence[ContactMethod]:
    ids = set(user_ids)
    if not ids:
        return []
    return session.scalars(
        select(ContactMethod).where(ContactMethod.user_id.in_(ids)).order_by(ContactMethod.user_id, ContactMethod.name)
    ).all()


def contact_method_by_name(session: Session, user_id: int, name: str) -> ContactMethod | None:
    return session.scalar(select(ContactMethod).where(ContactMethod.user_id == user_id, ContactMethod.name == name))


def rules_of(session: Session, user_id: int) -> Sequence[NotificationRule]:
    return session.scalars(
        select(NotificationRule)
        .where(NotificationRule.user_id == user_id)
        .options(selectinload(NotificationRule.contact_method))
        .order_by(NotificationRule.delay_s, NotificationRule.id)
    ).all()


def rule_by_id(session: Session, user_id: int, rule_id: int) -> NotificationRule | None:
    return session.scalar(
        select(NotificationRule).where(NotificationRule.id == rule_id, NotificationRule.user_id == user_id)
    )


def quiet_hours_of(session: Session, user_id: int) -> QuietHours | None:
    return session.get(QuietHours, user_id)
