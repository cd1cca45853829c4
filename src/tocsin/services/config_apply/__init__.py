"""`tocsin apply`: make the database match a config document.

`plan()` compares the document with the database and returns the changes
(create / update / delete, with each changed field's old and new value) as
steps that each know how to carry themselves out; `execute()` runs them and
flushes. Planning writes nothing, so `--dry-run` is `plan()` alone, and what is
printed is exactly what `execute()` does.

Ownership: objects that apply creates, or that the file names (claims), get
`managed=True`. For a section present in the file, managed objects missing from
it are removed; unmanaged ones (the first-start admin, objects made through the
API, the shipped defaults) are never touched unless the file names them. A
section left out of the file is left alone. Users and services are only
deactivated / archived, because incidents and timelines refer to them;
integrations only disabled, because their alerts stay; a maintenance window
that is on is ended, one that has ended is history and never touched.

Identity: integrations by (service, name); a service's routing rules as one
ordered list (its managed rules are replaced whenever the list differs; rules
made through the API stay, after the file's); maintenance windows by name.
An integration's key is made by `execute()` and handed back once as an
`IssuedKey`, or read from the environment variable the file names (`env`);
so is a new heartbeat's ping uuid (kind `heartbeat`), unless the file fixes it.

Every problem found while planning (an unknown reference, removing a severity
or role an open incident still uses) is collected as an `Issue` with the path
in the document, and all of them are raised together as `InvalidConfig`.

One module per group of sections (`severities`, `directory`, `alerting`,
`paging`, `channels`, `heartbeats`), all planning with the shape in `steps`; this module puts them in
dependency order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.clock import SystemClock
from tocsin.config_file import schema
from tocsin.config_file.errors import InvalidConfig
from tocsin.services.actor import Actor
from tocsin.services.config_apply import alerting, channels, directory, paging, severities
from tocsin.services.config_apply import checks as check_plans
from tocsin.services.config_apply import heartbeats as heartbeat_plans
from tocsin.services.config_apply import runbooks as runbook_plans
from tocsin.services.config_apply import status_page as status_page_plans
from tocsin.services.config_apply.references import check_references
from tocsin.services.config_apply.steps import (
    Action,
    Change,
    FieldChange,
    IssuedKey,
    Plan,
    Planning,
    Step,
    Value,
)

__all__ = [
    "APPLY_ACTOR",
    "Action",
    "Change",
    "FieldChange",
    "IssuedKey",
    "Plan",
    "Step",
    "Value",
    "apply",
    "execute",
    "plan",
]

APPLY_ACTOR = Actor.system("apply")


def plan(
    session: Session,
    document: schema.Document,
    *,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> Plan:
    """Raises InvalidConfig (issues with paths, not yet lines) when the document cannot be applied.
    `now` tells maintenance windows that are on from those to come (system clock when left out);
    `env` holds the variables that `key_env` and `address_env` name."""
    planning = Planning(session, document, now or SystemClock().now(), env or {})
    # Dependency order: teams need their users, services their teams; schedules their users,
    # policies their schedules and teams, a service's policy link its policy.
    severities.plan_severities(planning, document.severities)
    if document.roles is not None:
        severities.plan_roles(planning, document.roles)
    directory.plan_users(planning, document.users)
    paging.plan_contacts(planning, document.users)
    directory.plan_teams(planning, document.teams)
    schedule_removals = paging.plan_schedules(planning, document.schedules)
    policy_removals = paging.plan_policies(planning, document.escalation_policies)
    if document.services is not None:
        directory.plan_services(planning, document.services)
    directory.services_after(planning)
    paging.check_policy_removals(planning)
    # Removals run in plan order, after every create and update: policies go once the services
    # have left them, schedules once the policies that paged them are gone.
    for change, run in [*policy_removals, *schedule_removals]:
        planning.step(change, run, late=True)
    # After services: what they create (a rule's route_to, an integration's service) exists by then.
    if document.integrations is not None:
        alerting.plan_integrations(planning, document.integrations)
    if document.routes is not None:
        alerting.plan_routes(planning, document.routes)
    if document.maintenance_windows is not None:
        alerting.plan_windows(planning, document.maintenance_windows)
    # After services and severities: routes name both.
    if document.channels is not None:
        channels.plan_channels(planning, document.channels)
    # After services: a heartbeat names its service.
    if document.heartbeats is not None:
        heartbeat_plans.plan_heartbeats(planning, document.heartbeats)
    # After services: a check names its service.
    if document.checks is not None:
        check_plans.plan_checks(planning, document.checks)
    # After services and checks: a component names both.
    if document.status_page is not None:
        status_page_plans.plan_status_page(planning, document.status_page)
    # After services, severities and roles: a runbook names them.
    if document.runbooks is not None:
        runbook_plans.plan_runbooks(planning, document.runbooks)
    check_references(planning)
    if planning.issues:
        raise InvalidConfig(planning.issues)
    return Plan(tuple(planning.steps))


def execute(session: Session, actor: Actor, now: datetime, planned: Plan) -> list[IssuedKey]:
    """Carry out a plan made in this session and transaction; flushes, never commits.
    Returns the keys of the integrations it made, which nothing else will ever show."""
    issued = []
    for step in [s for s in planned.steps if not s.late] + [s for s in planned.steps if s.late]:
        key = step.run(actor, now)
        if key is not None:
            issued.append(key)
        session.flush()
    return issued


def apply(
    session: Session, actor: Actor, now: datetime, document: schema.Document, *, env: Mapping[str, str] | None = None
) -> Plan:
    planned = plan(session, document, now=now, env=env)
    execute(session, actor, now, planned)
    return planned
