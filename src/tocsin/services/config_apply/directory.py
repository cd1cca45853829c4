"""Planning `users`, `teams` and `services`: who works here, in which team, owning what.

Users are deactivated and services archived rather than deleted, because
incidents and timelines refer to them; a team is deleted, its services keep
going without one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from tocsin.config_file import schema
from tocsin.config_file.errors import InvalidConfig, Issue
from tocsin.services import audit, directory
from tocsin.services.actor import Actor
from tocsin.services.config_apply import paging
from tocsin.services.config_apply.steps import (
    Change,
    FieldChange,
    Planning,
    Run,
    Section,
    Value,
    changes_detail,
    plan_section,
)
from tocsin.storage import models
from tocsin.storage.repositories import directory as directory_repo

# ---- users ----------------------------------------------------------------------------


def plan_users(planning: Planning, specs: Sequence[schema.User] | None) -> None:
    rows = {row.email.lower(): row for row in directory_repo.list_users(planning.session, include_inactive=True)}
    active = {email for email, row in rows.items() if row.active}
    planning.inactive_users = set(rows) - active
    if specs is None:
        planning.users_after = active
        return

    def remove(email: str, row: models.User) -> tuple[Change, Run] | None:
        if not (row.active and row.managed):
            return None
        change = Change("delete", "user", row.email, note="deactivated; incidents and timelines keep the name")
        return change, functools.partial(_deactivate_user, planning, row)

    planning.users_removed = plan_section(
        planning,
        Section(
            kind="user",
            rows=rows,
            key=lambda spec: spec.email.lower(),
            label=lambda spec, row: row.email if row is not None else spec.email,
            desired=lambda spec: {
                "name": spec.name or spec.email,
                "role": spec.role,
                "time_zone": spec.time_zone,
                "active": True,
                "managed": True,
            },
            current=lambda row: {
                "name": row.name,
                "role": row.role,
                "time_zone": row.time_zone,
                "active": row.active,
                "managed": row.managed,
            },
            create=lambda spec: functools.partial(_create_user, planning, spec),
            update=lambda spec, row, fields: planning.set_fields(row, "user", row.email, fields),
            remove=remove,
            implied=("active",),
            update_note=lambda row: "reactivated" if not row.active else "",
        ),
        specs,
    )
    planning.users_after = (active - planning.users_removed) | {spec.email.lower() for spec in specs}


def _create_user(planning: Planning, spec: schema.User, actor: Actor, now: datetime) -> None:
    directory.create_user(
        planning.session,
        actor,
        now,
        email=spec.email,
        name=spec.name or spec.email,
        role=spec.role,
        time_zone=spec.time_zone,
        managed=True,
    )


def _deactivate_user(planning: Planning, row: models.User, actor: Actor, now: datetime) -> None:
    row.active = False
    audit.record(planning.session, actor, now, "deactivate", "user", row.email)


# ---- teams ----------------------------------------------------------------------------


def plan_teams(planning: Planning, specs: Sequence[schema.Team] | None) -> None:
    rows = {row.key: row for row in directory_repo.list_teams_with_members(planning.session)}
    if specs is None:
        planning.teams_after = set(rows)
        return
    staying = _services_staying(planning)

    def remove(key: str, row: models.Team) -> tuple[Change, Run] | None:
        if not row.managed:
            return None
        orphans = [s.key for s in directory_repo.services_of_team(planning.session, row.id) if s.key in staying]
        note = f"services {', '.join(orphans)} will have no team" if orphans else ""
        return Change("delete", "team", key, note=note), functools.partial(_delete_team, planning, row)

    planning.teams_removed = plan_section(
        planning,
        Section(
            kind="team",
            rows=rows,
            key=lambda spec: spec.key,
            desired=lambda spec: {
                "name": spec.name or spec.key,
                "description": spec.description,
                "members": sorted(email.lower() for email in spec.members),
                "managers": sorted(email.lower() for email in spec.managers),
                "managed": True,
            },
            current=lambda row: {
                "name": row.name,
                "description": row.description,
                "members": sorted(m.user.email.lower() for m in row.members if m.role != "manager"),
                "managers": sorted(m.user.email.lower() for m in row.members if m.role == "manager"),
                "managed": row.managed,
            },
            create=lambda spec: functools.partial(_create_team, planning, spec),
            update=lambda spec, row, fields: functools.partial(_update_team, planning, row, spec, fields),
            remove=remove,
        ),
        specs,
    )
    planning.teams_after = (set(rows) - planning.teams_removed) | {spec.key for spec in specs}


def _services_staying(planning: Planning) -> set[str]:
    """Services whose team this apply does not set (those not in the file)."""
    declared = {spec.key for spec in planning.document.services or ()}
    return {s.key for s in directory_repo.list_services(planning.session, include_archived=True)} - declared


def _create_team(planning: Planning, spec: schema.Team, actor: Actor, now: datetime) -> None:
    team = directory.create_team(
        planning.session,
        actor,
        now,
        key=spec.key,
        name=spec.name or spec.key,
        description=spec.description,
        members=[*spec.members, *spec.managers],
        managed=True,
    )
    managers = {email.lower() for email in spec.managers}
    for member in team.members:
        if member.user.email.lower() in managers:
            member.role = "manager"


def _update_team(
    planning: Planning,
    row: models.Team,
    spec: schema.Team,
    fields: Sequence[FieldChange],
    actor: Actor,
    now: datetime,
) -> None:
    row.name = spec.name or spec.key
    row.description = spec.description
    row.managed = True
    wanted = {email.lower(): "member" for email in spec.members}
    wanted.update({email.lower(): "manager" for email in spec.managers})
    kept = []
    for member in row.members:
        role = wanted.pop(member.user.email.lower(), None)
        if role is not None:
            member.role = role
            kept.append(member)
    for email, role in wanted.items():
        user = directory_repo.user_by_email(planning.session, email)
        if user is None:  # planning checked every reference; only a concurrent delete gets here
            raise InvalidConfig([Issue(("teams",), f"user {email!r} disappeared while applying")])
        kept.append(models.TeamMember(user=user, role=role))
    row.members = kept  # members left out are orphans, deleted on flush
    audit.record(planning.session, actor, now, "update", "team", row.key, changes_detail(fields))


def _delete_team(planning: Planning, row: models.Team, actor: Actor, now: datetime) -> None:
    # The foreign key would set these to NULL too; doing it here keeps the
    # session's objects truthful and the audit trail complete.
    for service in directory_repo.services_of_team(planning.session, row.id):
        service.team = None
    planning.delete(row, "team", row.key)(actor, now)


# ---- services -------------------------------------------------------------------------


def plan_services(planning: Planning, specs: Sequence[schema.Service]) -> None:
    def remove(key: str, row: models.Service) -> tuple[Change, Run] | None:
        if not row.managed or row.archived_at is not None:
            return None
        change = Change("delete", "service", key, note="archived; incidents keep referring to it")
        return change, functools.partial(_archive_service, planning, row)

    plan_section(
        planning,
        Section(
            kind="service",
            rows={row.key: row for row in directory_repo.list_services(planning.session, include_archived=True)},
            key=lambda spec: spec.key,
            desired=_service_desired,
            current=_service_current,
            create=lambda spec: functools.partial(_create_service, planning, spec),
            update=lambda spec, row, fields: functools.partial(_update_service, planning, row, spec, fields),
            remove=remove,
            update_note=lambda row: "restored from the archive" if row.archived_at is not None else "",
        ),
        specs,
    )


def _service_desired(spec: schema.Service) -> dict[str, Value]:
    return {
        "name": spec.name or spec.key,
        "description": spec.description,
        "team": spec.team,
        **paging.service_policy(spec),
        "emergency": spec.emergency,
        "archived": False,
        "managed": True,
    }


def _service_current(row: models.Service) -> dict[str, Value]:
    return {
        "name": row.name,
        "description": row.description,
        "team": row.team.key if row.team is not None else None,
        "escalation_policy": row.escalation_policy.key if row.escalation_policy is not None else None,
        "emergency": row.emergency,
        "archived": row.archived_at is not None,
        "managed": row.managed,
    }


def _create_service(planning: Planning, spec: schema.Service, actor: Actor, now: datetime) -> None:
    directory.create_service(
        planning.session,
        actor,
        now,
        key=spec.key,
        name=spec.name or spec.key,
        description=spec.description,
        team=spec.team,
        emergency=spec.emergency,
        managed=True,
    )
    paging.link_policy(planning, spec, actor, now)


def _update_service(
    planning: Planning,
    row: models.Service,
    spec: schema.Service,
    fields: Sequence[FieldChange],
    actor: Actor,
    now: datetime,
) -> None:
    row.name = spec.name or spec.key
    row.description = spec.description
    row.team = directory.get_team(planning.session, spec.team) if spec.team is not None else None
    row.emergency = spec.emergency
    row.archived_at = None
    row.managed = True
    audit.record(planning.session, actor, now, "update", "service", row.key, changes_detail(fields))
    if any(change.field == "escalation_policy" for change in fields):
        paging.link_policy(planning, spec, actor, now)


def _archive_service(planning: Planning, row: models.Service, actor: Actor, now: datetime) -> None:
    row.archived_at = now
    audit.record(planning.session, actor, now, "archive", "service", row.key)


def services_after(planning: Planning) -> None:
    """Which services exist once the plan has run, for the references of the sections below."""
    rows = directory_repo.list_services(planning.session, include_archived=True)
    live = {row.key for row in rows if row.archived_at is None}
    declared = {spec.key for spec in planning.document.services or ()}
    if planning.document.services is not None:
        planning.services_removed = {row.key for row in rows if row.managed and row.key in live - declared}
    planning.services_after = (live - planning.services_removed) | declared
    planning.services_archived = {row.key for row in rows if row.archived_at is not None} - declared
