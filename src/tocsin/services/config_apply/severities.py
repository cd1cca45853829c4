"""Planning `severities` (schemes, their levels, which one is active) and `roles`.

Both refuse to take away what an open incident still uses: a severity level
of the active scheme, or a role someone holds.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tocsin.config_file import schema
from tocsin.config_file.errors import Issue, Path
from tocsin.domain.incidents import OPEN_STATUSES
from tocsin.services import audit
from tocsin.services.actor import Actor
from tocsin.services.config_apply.steps import (
    Change,
    FieldChange,
    Planning,
    Run,
    Section,
    Value,
    changes_detail,
    diff,
    duration,
    incidents,
    plan_object,
    plan_section,
    seconds,
)
from tocsin.storage import models
from tocsin.storage.repositories import severities as severities_repo

_LEVEL_TIMES = (
    "ack_within",
    "resolve_within",
    "update_every",
    "watch_after_fix",
    "customer_notice_within",
    "postmortem_within",
)


def plan_severities(planning: Planning, spec: schema.Severities | None) -> None:
    rows = {row.name: row for row in severities_repo.list_schemes(planning.session)}
    current_active = next((row for row in rows.values() if row.active), None)
    if spec is None:
        planning.schemes_after = set(rows)
        if current_active is not None:
            planning.active_after = current_active.name
            planning.levels_after = [level.name for level in current_active.levels]
        return
    declared = {scheme.name: scheme for scheme in spec.schemes or ()}
    removed = set()
    if spec.schemes is not None:
        removed = {name for name, row in rows.items() if row.managed and name not in declared}
    planning.schemes_removed = removed
    planning.schemes_after = (set(rows) - removed) | set(declared)

    final_active = spec.active or (current_active.name if current_active is not None else None)
    if final_active is None:
        planning.issues.append(Issue(("severities",), "no severity scheme is active; set severities.active"))
    elif spec.active is None and final_active in removed:
        planning.issues.append(
            Issue(
                ("severities", "schemes"),
                f"scheme {final_active!r} is active and would be deleted; "
                "set severities.active to another scheme, or keep this one",
            )
        )
    _severities_in_use(planning, spec, rows, current_active, final_active)
    planning.active_after = final_active
    if final_active in declared:
        planning.levels_after = [level.name for level in declared[final_active].levels]
    elif final_active in rows and final_active not in removed:
        planning.levels_after = [level.name for level in rows[final_active].levels]

    for scheme in spec.schemes or ():
        _scheme(planning, scheme, rows.get(scheme.name), active=scheme.name == final_active)
    for name, row in rows.items():
        if name in declared or name in removed:
            continue
        if row.active != (name == final_active):
            fields = (FieldChange("active", row.active, not row.active),)
            planning.step(
                Change("update", "severity scheme", name, fields),
                functools.partial(_update_scheme_flag, planning, row, fields),
            )
    for name in sorted(removed):
        row = rows[name]
        note = f"with its levels {', '.join(lv.name for lv in row.levels)}"
        planning.step(
            Change("delete", "severity scheme", name, note=note),
            planning.delete(row, "severity scheme", name),
            late=True,
        )


def _severities_in_use(
    planning: Planning,
    spec: schema.Severities,
    rows: Mapping[str, models.SeverityScheme],
    current_active: models.SeverityScheme | None,
    final_active: str | None,
) -> None:
    """Refuse to make a severity that an open incident carries disappear from the active scheme."""
    if current_active is None or final_active is None:
        return
    declared = {scheme.name: (index, scheme) for index, scheme in enumerate(spec.schemes or ())}
    if final_active in declared:
        index, scheme = declared[final_active]
        final_levels = {level.name for level in scheme.levels}
        path: Path = ("severities", "schemes", index, "levels")
    elif final_active in rows and final_active not in planning.schemes_removed:
        final_levels = {level.name for level in rows[final_active].levels}
        path = ("severities", "active")
    else:
        return  # an unknown or removed scheme: reported as a reference
    in_use = severities_repo.severities_in_use(planning.session, OPEN_STATUSES)
    current_levels = {level.name for level in current_active.levels}
    for severity in sorted(set(in_use) & current_levels - final_levels):
        planning.issues.append(
            Issue(
                path,
                f"severity {severity!r} is used by {incidents(in_use[severity])}; "
                f"the active scheme {final_active!r} would not have it",
            )
        )


def _level_values(spec: schema.Level, rank: int) -> dict[str, Any]:
    """Column values of a severity level row."""
    return {
        "rank": rank,
        "description": spec.description,
        **{f"{name}_s": seconds(getattr(spec, name)) for name in _LEVEL_TIMES},
        "emergency": spec.emergency if spec.emergency is not None else rank == 0,
    }


def _level_display(prefix: str, values: Mapping[str, Any], *, rank: bool) -> dict[str, Value]:
    # A new level's rank is its place in `levels`, which the plan already shows.
    shown: dict[str, Value] = {f"{prefix}.rank": values["rank"]} if rank else {}
    shown[f"{prefix}.description"] = values["description"]
    shown.update({f"{prefix}.{name}": duration(values[f"{name}_s"]) for name in _LEVEL_TIMES})
    # Likewise a new level that is not an emergency: only `emergency: true` is worth a line.
    shown[f"{prefix}.emergency"] = values["emergency"] if rank or values["emergency"] else None
    return shown


def _level_row_values(level: models.SeverityLevel) -> dict[str, Any]:
    return {
        "rank": level.rank,
        "description": level.description,
        **{f"{name}_s": getattr(level, f"{name}_s") for name in _LEVEL_TIMES},
        "emergency": level.emergency,
    }


def _scheme(planning: Planning, spec: schema.Scheme, row: models.SeverityScheme | None, *, active: bool) -> None:
    wanted = [_level_values(level, rank) for rank, level in enumerate(spec.levels)]
    existing = {level.name for level in row.levels} if row is not None else set()
    desired: dict[str, Value] = {"levels": [level.name for level in spec.levels], "active": active, "managed": True}
    for spec_level, values in zip(spec.levels, wanted, strict=True):
        desired.update(_level_display(spec_level.name, values, rank=spec_level.name in existing))
    current: dict[str, Value] | None = None
    note = ""
    if row is not None:
        current = {"levels": [level.name for level in row.levels], "active": row.active, "managed": row.managed}
        for level in row.levels:
            current.update(_level_display(level.name, _level_row_values(level), rank=True))
        if row.active and any(f.field.split(".")[-1] in _LEVEL_TIMES for f in diff(current, desired)):
            note = "open incidents keep the response targets they were given"
    plan_object(
        planning,
        "severity scheme",
        spec.name,
        desired,
        current,
        create=lambda: functools.partial(_create_scheme, planning, spec, wanted, active),
        update=lambda fields: functools.partial(_update_scheme, planning, row, spec, wanted, active, fields),
        update_note=note,
    )


def _create_scheme(
    planning: Planning,
    spec: schema.Scheme,
    levels: Sequence[Mapping[str, Any]],
    active: bool,
    actor: Actor,
    now: datetime,
) -> None:
    row = models.SeverityScheme(name=spec.name, active=active, managed=True)
    row.levels = [
        models.SeverityLevel(name=level.name, **values) for level, values in zip(spec.levels, levels, strict=True)
    ]
    planning.session.add(row)
    audit.record(planning.session, actor, now, "create", "severity scheme", spec.name, {"active": active})


def _update_scheme(
    planning: Planning,
    row: models.SeverityScheme | None,
    spec: schema.Scheme,
    levels: Sequence[Mapping[str, Any]],
    active: bool,
    fields: Sequence[FieldChange],
    actor: Actor,
    now: datetime,
) -> None:
    assert row is not None, "only a scheme that exists is updated"
    existing = {level.name: level for level in row.levels}
    kept = []
    for level, values in zip(spec.levels, levels, strict=True):
        level_row = existing.get(level.name) or models.SeverityLevel(name=level.name)
        for column, value in values.items():
            setattr(level_row, column, value)
        kept.append(level_row)
    row.levels = kept  # levels left out are orphans, deleted on flush
    row.active = active
    row.managed = True
    audit.record(planning.session, actor, now, "update", "severity scheme", row.name, changes_detail(fields))


def _update_scheme_flag(
    planning: Planning, row: models.SeverityScheme, fields: Sequence[FieldChange], actor: Actor, now: datetime
) -> None:
    row.active = not row.active
    audit.record(planning.session, actor, now, "update", "severity scheme", row.name, changes_detail(fields))


# ---- roles ----------------------------------------------------------------------------


def plan_roles(planning: Planning, specs: Sequence[schema.Role]) -> None:
    positions = {spec.key: position for position, spec in enumerate(specs)}
    held = severities_repo.roles_held(planning.session, OPEN_STATUSES)

    def desired(spec: schema.Role) -> dict[str, Value]:
        return {"name": spec.name, "description": spec.description, "position": positions[spec.key], "managed": True}

    def remove(key: str, row: models.RoleDefinition) -> tuple[Change, Run] | None:
        if not row.managed:
            return None
        if key in held:
            planning.issues.append(
                Issue(
                    ("roles",),
                    f"role {key!r} is held on {incidents(held[key])}; keep it in the file until the incident is closed",
                )
            )
            return None
        return Change("delete", "role", key), planning.delete(row, "role", key)

    plan_section(
        planning,
        Section(
            kind="role",
            rows={row.key: row for row in severities_repo.list_roles(planning.session)},
            key=lambda spec: spec.key,
            desired=desired,
            current=lambda row: {
                "name": row.name,
                "description": row.description,
                "position": row.position,
                "managed": row.managed,
            },
            create=lambda spec: functools.partial(_create_role, planning, spec.key, desired(spec)),
            update=lambda spec, row, fields: planning.set_fields(row, "role", spec.key, fields),
            remove=remove,
        ),
        specs,
    )


def _create_role(planning: Planning, key: str, values: Mapping[str, Value], actor: Actor, now: datetime) -> None:
    planning.session.add(models.RoleDefinition(key=key, **values))
    audit.record(planning.session, actor, now, "create", "role", key)
