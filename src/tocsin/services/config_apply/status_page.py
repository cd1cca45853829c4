"""Planning `status_page`: the page's settings, its component groups and components.

Groups and components are identified by key; their position is their place in
the file. Writes go through `services.status_page`, as the API's do. A managed
group or component the file no longer names is deleted; ones made through the
API are left alone unless the file names them, which makes them managed. A
component's manual status is never touched: it is not configuration.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime

from tocsin.config_file import status_page as specs
from tocsin.config_file.errors import Issue
from tocsin.services import status_page
from tocsin.services.actor import Actor
from tocsin.services.config_apply.steps import Change, FieldChange, Planning, Run, Value, plan_object
from tocsin.storage import models
from tocsin.storage.repositories import checks as checks_repo
from tocsin.storage.repositories import status_page as repo

PAGE = "status page"
GROUP = "status page group"
COMPONENT = "status page component"


def _always(run: Run) -> Callable[[], Run]:
    return lambda: run


def _always_update(run: Run) -> Callable[[tuple[FieldChange, ...]], Run]:
    return lambda _fields: run


def plan_status_page(planning: Planning, spec: specs.StatusPage) -> None:
    _plan_page(planning, spec)
    groups = {row.key: row for row in repo.groups(planning.session)}
    groups_after = set(groups)
    if spec.groups is not None:
        groups_after = _plan_groups(planning, spec.groups, groups)
    if spec.components is not None:
        _plan_components(planning, spec.components, groups_after)


def _plan_page(planning: Planning, spec: specs.StatusPage) -> None:
    given = {
        field: value
        for field, value in (
            ("name", spec.name),
            ("description", spec.description),
            ("url", spec.url),
            ("time_zone", spec.time_zone),
        )
        if value is not None
    }
    if not given:
        return
    row = repo.settings(planning.session)
    current: dict[str, Value] | None = None
    if row is not None:
        current = {"name": row.name, "description": row.description, "url": row.url, "time_zone": row.time_zone}
        current = {field: current[field] for field in given}

    def run(actor: Actor, now: datetime) -> None:
        status_page.configure(planning.session, actor, now, **given)

    plan_object(planning, PAGE, "page", dict(given), current, create=_always(run), update=_always_update(run))


def _plan_groups(
    planning: Planning, specs_: Sequence[specs.Group], rows: dict[str, models.StatusPageGroup]
) -> set[str]:
    for position, spec in enumerate(specs_):
        row = rows.get(spec.key)
        desired: dict[str, Value] = {
            "name": spec.name, "description": spec.description, "position": position, "managed": True,
        }  # fmt: skip
        current: dict[str, Value] | None = None
        if row is not None:
            current = {
                "name": row.name,
                "description": row.description,
                "position": row.position,
                "managed": row.managed,
            }
        run = functools.partial(_save_group, planning, spec, position)
        plan_object(planning, GROUP, spec.key, desired, current, create=_always(run), update=_always_update(run))
    declared = {spec.key for spec in specs_}
    after = set(declared)
    for key, stale in rows.items():
        if key in declared:
            continue
        if stale.managed:
            change = Change("delete", GROUP, key, note="its components stay, ungrouped")
            planning.step(change, functools.partial(_delete_group, planning, key), late=True)
        else:
            after.add(key)
    return after


def _save_group(planning: Planning, spec: specs.Group, position: int, actor: Actor, now: datetime) -> None:
    status_page.save_group(
        planning.session, actor, now, key=spec.key, name=spec.name, description=spec.description,
        position=position, managed=True,
    )  # fmt: skip


def _delete_group(planning: Planning, key: str, actor: Actor, now: datetime) -> None:
    status_page.delete_group(planning.session, actor, now, key)


def _component_spec(spec: specs.Component, position: int) -> status_page.ComponentSpec:
    return status_page.ComponentSpec(
        name=spec.name, description=spec.description, group=spec.group, position=position,
        services=spec.services, checks=spec.checks,
    )  # fmt: skip


def _plan_components(planning: Planning, specs_: Sequence[specs.Component], groups: set[str]) -> None:
    rows = {row.key: row for row in repo.components(planning.session)}
    checks_after = {row.name for row in checks_repo.list_checks(planning.session)}
    checks_after |= {check.name for check in planning.document.checks or ()}
    base = ("status_page", "components")
    for position, spec in enumerate(specs_):
        if spec.group is not None and spec.group not in groups:
            planning.issues.append(Issue((*base, position, "group"), f"no component group {spec.group!r}"))
        for index, key in enumerate(spec.services):
            if key not in planning.services_after:
                planning.issues.append(Issue((*base, position, "services", index), f"unknown service {key!r}"))
        for index, name in enumerate(spec.checks):
            if name not in checks_after:
                planning.issues.append(Issue((*base, position, "checks", index), f"unknown check {name!r}"))
        row = rows.get(spec.key)
        desired: dict[str, Value] = {
            "name": spec.name, "description": spec.description, "group": spec.group, "position": position,
            "services": ", ".join(spec.services), "checks": ", ".join(spec.checks), "managed": True,
        }  # fmt: skip
        current: dict[str, Value] | None = None
        if row is not None:
            current = {
                "name": row.name, "description": row.description,
                "group": row.group.key if row.group is not None else None, "position": row.position,
                "services": ", ".join(s.key for s in row.services), "checks": ", ".join(c.name for c in row.checks),
                "managed": row.managed,
            }  # fmt: skip
        wanted = _component_spec(spec, position)
        create = functools.partial(_create_component, planning, spec.key, wanted)
        update = functools.partial(_update_component, planning, spec.key, wanted)
        plan_object(
            planning, COMPONENT, spec.key, desired, current, create=_always(create), update=_always_update(update)
        )
    declared = {spec.key for spec in specs_}
    for key, stale in rows.items():
        if stale.managed and key not in declared:
            change = Change("delete", COMPONENT, key)
            planning.step(change, functools.partial(_delete_component, planning, key), late=True)


def _create_component(
    planning: Planning, key: str, spec: status_page.ComponentSpec, actor: Actor, now: datetime
) -> None:
    status_page.create_component(planning.session, actor, now, key, spec, managed=True)


def _update_component(
    planning: Planning, key: str, spec: status_page.ComponentSpec, actor: Actor, now: datetime
) -> None:
    status_page.update_component(planning.session, actor, now, key, spec, managed=True)


def _delete_component(planning: Planning, key: str, actor: Actor, now: datetime) -> None:
    status_page.delete_component(planning.session, actor, now, key)
