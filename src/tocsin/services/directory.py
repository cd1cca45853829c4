"""Users, teams and services: the people and the things that break."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.domain import naming
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import audit
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import directory as repo
from tocsin.storage.repositories import web_sessions as web_sessions_repo

USER_ROLES = ("viewer", "responder", "admin")


def check_key(key: str, field: str) -> str:
    problem = naming.key_problem(key)
    if problem:
        raise ValidationFailed(problem, field=field)
    return key


def create_user(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    email: str,
    name: str,
    role: str = "responder",
    time_zone: str = "UTC",
    managed: bool = False,
) -> models.User:
    problem = naming.email_problem(email)
    if problem:
        raise ValidationFailed(problem, field="email")
    problem = naming.time_zone_problem(time_zone)
    if problem:
        raise ValidationFailed(problem, field="time_zone")
    if role not in USER_ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(USER_ROLES)}", field="role")
    if repo.user_by_email(session, email) is not None:
        raise Conflict(f"a user with e-mail {email!r} exists", field="email")
    user = models.User(
        email=email, name=name or email, role=role, time_zone=time_zone, active=True, managed=managed, created_at=now
    )
    session.add(user)
    audit.record(session, actor, now, "create", "user", email, {"role": role})
    session.flush()
    return user


def update_user(
    session: Session,
    actor: Actor,
    now: datetime,
    email: str,
    *,
    name: str | None = None,
    role: str | None = None,
    time_zone: str | None = None,
    active: bool | None = None,
) -> models.User:
    """Change what is given; None leaves a field as it is. Deactivating ends the user's
    web sessions at once (their API tokens stop working too: tokens check `active`).
    The last active admin can be neither demoted nor deactivated: nobody could undo it
    but a person with the database."""
    user = get_user(session, email)
    if name is not None and not name.strip():
        raise ValidationFailed("a name cannot be empty", field="name")
    if role is not None and role not in USER_ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(USER_ROLES)}", field="role")
    if time_zone is not None and (problem := naming.time_zone_problem(time_zone)):
        raise ValidationFailed(problem, field="time_zone")
    losing_admin = user.role == "admin" and user.active and ((role or "admin") != "admin" or active is False)
    if losing_admin and repo.count_active_admins(session) <= 1:
        field = "active" if active is False else "role"
        raise ValidationFailed(f"{user.email} is the last active admin; make another admin first", field=field)
    changes: dict[str, object] = {}
    for field, value in (
        ("name", name.strip() if name is not None else None),
        ("role", role),
        ("time_zone", time_zone),
        ("active", active),
    ):
        if value is not None and value != getattr(user, field):
            changes[field] = {"from": getattr(user, field), "to": value}
            setattr(user, field, value)
    if active is False and "active" in changes:
        web_sessions_repo.delete_for_user(session, user.id)
    if changes:
        action = "update"
        if "active" in changes:
            action = "reactivate" if active else "deactivate"
        audit.record(session, actor, now, action, "user", user.email, changes)
    session.flush()
    return user


def create_team(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    key: str,
    name: str,
    description: str = "",
    members: Sequence[str] = (),
    managed: bool = False,
) -> models.Team:
    check_key(key, "key")
    if repo.team_by_key(session, key) is not None:
        raise Conflict(f"a team {key!r} exists", field="key")
    team = models.Team(key=key, name=name or key, description=description, managed=managed, created_at=now)
    team.members = [models.TeamMember(user=_user(session, email, "members")) for email in dict.fromkeys(members)]
    session.add(team)
    audit.record(session, actor, now, "create", "team", key)
    session.flush()
    return team


def update_team(
    session: Session,
    actor: Actor,
    now: datetime,
    key: str,
    *,
    name: str | None = None,
    description: str | None = None,
    members: Sequence[str] | None = None,
) -> models.Team:
    """Change what is given; `members` (e-mails) replaces the membership, keeping the rows
    (and their manager role) of those who stay."""
    team = get_team(session, key)
    changes: dict[str, object] = {}
    if name is not None and not name.strip():
        raise ValidationFailed("a name cannot be empty", field="name")
    for field, value in (("name", name.strip() if name is not None else None), ("description", description)):
        if value is not None and value != getattr(team, field):
            changes[field] = {"from": getattr(team, field), "to": value}
            setattr(team, field, value)
    if members is not None:
        wanted = [_user(session, email, "members") for email in dict.fromkeys(m.strip() for m in members if m.strip())]
        before = {member.user_id: member for member in team.members}
        after_ids = {user.id for user in wanted}
        added = [user.email for user in wanted if user.id not in before]
        removed = [member.user.email for member in team.members if member.user_id not in after_ids]
        if added or removed:
            team.members = [before.get(user.id) or models.TeamMember(user=user) for user in wanted]
            changes["members"] = {"added": added, "removed": removed}
    if changes:
        audit.record(session, actor, now, "update", "team", key, changes)
    session.flush()
    return team


def _user(session: Session, email: str, field: str) -> models.User:
    user = repo.user_by_email(session, email)
    if user is None:
        raise ValidationFailed(f"unknown user {email!r}", field=field)
    return user


def create_service(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    key: str,
    name: str,
    description: str = "",
    team: str | None = None,
    emergency: bool = False,
    managed: bool = False,
) -> models.Service:
    check_key(key, "key")
    if repo.service_by_key(session, key) is not None:
        raise Conflict(f"a service {key!r} exists", field="key")
    team_row = None
    if team:
        team_row = repo.team_by_key(session, team)
        if team_row is None:
            raise ValidationFailed(f"unknown team {team!r}", field="team")
    service = models.Service(
        key=key,
        name=name or key,
        description=description,
        team=team_row,
        emergency=emergency,
        managed=managed,
        created_at=now,
    )
    session.add(service)
    audit.record(session, actor, now, "create", "service", key, {"emergency": True} if emergency else None)
    session.flush()
    return service


def edit_service(
    session: Session,
    actor: Actor,
    now: datetime,
    key: str,
    *,
    name: str | None = None,
    description: str | None = None,
    emergency: bool | None = None,
) -> models.Service:
    """Change what is given; None leaves a field as it is."""
    service = get_service(session, key)
    changes: dict[str, object] = {}
    for field, value in (("name", name), ("description", description), ("emergency", emergency)):
        if value is not None and value != getattr(service, field):
            changes[field] = {"from": getattr(service, field), "to": value}
            setattr(service, field, value)
    if changes:
        audit.record(session, actor, now, "update", "service", key, changes)
    session.flush()
    return service


def get_service(session: Session, key: str) -> models.Service:
    service = repo.service_by_key(session, key)
    if service is None:
        raise NotFound(f"no service {key!r}", field="service")
    return service


def get_team(session: Session, key: str) -> models.Team:
    team = repo.team_by_key(session, key)
    if team is None:
        raise NotFound(f"no team {key!r}", field="team")
    return team


def get_user(session: Session, email: str) -> models.User:
    user = repo.user_by_email(session, email)
    if user is None:
        raise NotFound(f"no user {email!r}", field="user")
    return user
