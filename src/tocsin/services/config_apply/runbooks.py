"""Planning `runbooks`: the checklists incidents get, by service and severity.

Runbooks are identified by key. The plan shows a runbook's phases and links one line
each (`Triage (first 5 minutes): Check the API dashboard [scribe]; …`), so a changed
item reads as a changed line. Writes go through `services.runbooks`, which checks them
as the API does; incidents already declared keep the checklists they were given. A
managed runbook the file no longer names is deleted; runbooks made through the API are
left alone unless the file names them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from tocsin.config_file import runbooks as specs
from tocsin.config_file.errors import Issue
from tocsin.domain import runbooks as domain
from tocsin.services import runbooks
from tocsin.services.actor import Actor
from tocsin.services.config_apply.steps import Change, FieldChange, Planning, Run, Value, plan_object
from tocsin.storage import models
from tocsin.storage.repositories import severities as severities_repo

KIND = "runbook"


def _values(runbook: domain.Runbook, managed: bool) -> dict[str, Value]:
    return {
        "name": runbook.name,
        "services": "all" if runbook.services is None else sorted(runbook.services),
        "severities": "all" if runbook.severities is None else sorted(runbook.severities),
        "links": [f"{link.title} <{link.url}>" for link in runbook.links],
        "phases": [_phase_line(phase) for phase in runbook.phases],
        "managed": managed,
    }


def _phase_line(phase: domain.Phase) -> str:
    frame = f" ({phase.time_frame})" if phase.time_frame else ""
    items = "; ".join(item.text + (f" [{item.role}]" if item.role else "") for item in phase.items)
    return f"{phase.name}{frame}: {items}"


def plan_runbooks(planning: Planning, specs_: Sequence[specs.Runbook]) -> None:
    rows = {row.key: row for row in runbooks.list_runbooks(planning.session)}
    roles = _roles_after(planning)
    for index, spec in enumerate(specs_):
        for path, key in domain.roles_named(spec.runbook):
            if key not in roles:
                message = f"unknown role {key!r}; roles are {', '.join(sorted(roles))}"
                planning.issues.append(Issue(("runbooks", index, *path), message))
        row = rows.get(spec.key)
        plan_object(
            planning,
            KIND,
            spec.key,
            _values(spec.runbook, True),
            _values(runbooks.to_domain(row), row.managed) if row is not None else None,
            create=functools.partial(_creating, planning, spec),
            update=functools.partial(_updating, planning, spec),
        )
    declared = {spec.key for spec in specs_}
    for key, stale in rows.items():
        if stale.managed and key not in declared:
            change = Change("delete", KIND, key, note="incidents keep the checklists they were given")
            planning.step(change, functools.partial(_delete, planning, key), late=True)


def _roles_after(planning: Planning) -> set[str]:
    if planning.document.roles is not None:
        return {role.key for role in planning.document.roles}
    return {role.key for role in severities_repo.list_roles(planning.session)}


def _creating(planning: Planning, spec: specs.Runbook) -> Run:
    return functools.partial(_create, planning, spec)


def _updating(planning: Planning, spec: specs.Runbook, _fields: tuple[FieldChange, ...]) -> Run:
    return functools.partial(_update, planning, spec)


def _create(planning: Planning, spec: specs.Runbook, actor: Actor, now: datetime) -> None:
    runbooks.create(planning.session, actor, now, spec.runbook, managed=True)


def _update(planning: Planning, spec: specs.Runbook, actor: Actor, now: datetime) -> None:
    row: models.Runbook = runbooks.update(planning.session, actor, now, spec.runbook)
    row.managed = True


def _delete(planning: Planning, key: str, actor: Actor, now: datetime) -> None:
    runbooks.delete(planning.session, actor, now, key)
