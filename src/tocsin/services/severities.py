"""The active severity scheme, as domain objects, and the defaults that ship."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from tocsin.domain import severity as domain
from tocsin.domain.roles import DEFAULT_ROLES
from tocsin.errors import ValidationFailed
from tocsin.storage import models
from tocsin.storage.repositories import severities as repo


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _delta(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def to_domain(scheme: models.SeverityScheme) -> domain.SeverityScheme:
    return domain.SeverityScheme(
        name=scheme.name,
        levels=tuple(
            domain.SeverityLevel(
                name=level.name,
                rank=level.rank,
                description=level.description,
                policy=domain.SeverityPolicy(
                    ack_within=_delta(level.ack_within_s),
                    resolve_within=_delta(level.resolve_within_s),
                    update_every=_delta(level.update_every_s),
                    watch_after_fix=_delta(level.watch_after_fix_s),
                    customer_notice_within=_delta(level.customer_notice_within_s),
                    postmortem_within=_delta(level.postmortem_within_s),
                ),
                emergency=level.emergency,
            )
            for level in scheme.levels
        ),
    )


def level_row(level: domain.SeverityLevel) -> models.SeverityLevel:
    return models.SeverityLevel(
        name=level.name,
        rank=level.rank,
        description=level.description,
        ack_within_s=_seconds(level.policy.ack_within),
        resolve_within_s=_seconds(level.policy.resolve_within),
        update_every_s=_seconds(level.policy.update_every),
        watch_after_fix_s=_seconds(level.policy.watch_after_fix),
        customer_notice_within_s=_seconds(level.policy.customer_notice_within),
        postmortem_within_s=_seconds(level.policy.postmortem_within),
        emergency=level.emergency,
    )


def active(session: Session) -> domain.SeverityScheme:
    scheme = repo.active_scheme(session)
    if scheme is None:
        raise ValidationFailed("no severity scheme is active; run `tocsin migrate`", field="severity")
    return to_domain(scheme)


def require_level(session: Session, name: str) -> domain.SeverityLevel:
    scheme = active(session)
    level = scheme.level(name)
    if level is None:
        names = ", ".join(level.name for level in scheme.levels)
        raise ValidationFailed(f"unknown severity {name!r}; the {scheme.name} scheme has {names}", field="severity")
    return level


def ensure_defaults(session: Session) -> None:
    """Create the shipped schemes and roles when none exist; never overwrite edits."""
    if not repo.list_schemes(session):
        for scheme in domain.DEFAULT_SCHEMES:
            row = models.SeverityScheme(name=scheme.name, active=scheme.name == domain.DEFAULT_ACTIVE_SCHEME)
            row.levels = [level_row(level) for level in scheme.levels]
            session.add(row)
    if not repo.list_roles(session):
        for position, role in enumerate(DEFAULT_ROLES):
            session.add(
                models.RoleDefinition(key=role.key, name=role.name, description=role.description, position=position)
            )
    session.flush()
