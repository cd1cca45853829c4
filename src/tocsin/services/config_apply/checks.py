"""Planning `checks`: the active health checks.

Checks are identified by name. Writes go through `services.checks`, which
checks them as the API does; a changed definition keeps the check's status,
counts and results, and its next slot follows a new interval. A managed check
the file no longer names is deleted with its results (its firing alert, if
any, is resolved); checks made through the API are left alone unless the file
names them, which makes them managed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tocsin.config_file import checks as spec_checks
from tocsin.services import checks
from tocsin.services.actor import Actor
from tocsin.services.config_apply.steps import Change, Planning, Value, duration, plan_object, seconds
from tocsin.storage import models

KIND = "check"


def _spec_text(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, ensure_ascii=False)


def _values(
    service: str,
    description: str,
    kind: str,
    spec: dict[str, Any],
    interval_s: int,
    timeout_s: int,
    failures: int,
    successes: int,
    reminder_s: int | None,
) -> dict[str, Value]:
    return {
        "service": service,
        "description": description,
        "kind": kind,
        "spec": _spec_text(spec),
        "interval": duration(interval_s),
        "timeout": duration(timeout_s),
        "failures_before_down": failures,
        "successes_before_up": successes,
        "remind_every": duration(reminder_s),
    }


def _definition(spec: spec_checks.Check) -> checks.Definition:
    return checks.Definition(
        kind=spec.kind or "",
        spec=spec.spec,
        interval_s=seconds(spec.interval) or 0,
        timeout_s=seconds(spec.timeout) or 0,
        failures_before_down=spec.failures_before_down,
        successes_before_up=spec.successes_before_up,
        reminder_every_s=seconds(spec.remind_every),
        description=spec.description,
    )


def _desired(spec: spec_checks.Check) -> dict[str, Value]:
    d = _definition(spec)
    values = _values(
        spec.service, d.description, d.kind, dict(d.spec), d.interval_s, d.timeout_s, d.failures_before_down,
        d.successes_before_up, d.reminder_every_s,
    )  # fmt: skip
    return {**values, "managed": True}


def _current(row: models.Check) -> dict[str, Value]:
    values = _values(
        row.service.key, row.description, row.kind, row.spec, row.interval_s, row.timeout_s,
        row.failures_before_down, row.successes_before_up, row.reminder_every_s,
    )  # fmt: skip
    return {**values, "managed": row.managed}


def plan_checks(planning: Planning, specs: Sequence[spec_checks.Check]) -> None:
    rows = {row.name: row for row in checks.list_checks(planning.session)}
    for spec in specs:
        _plan_check(planning, spec, rows.get(spec.name))
    declared = {spec.name for spec in specs}
    for name, stale in rows.items():
        if stale.managed and name not in declared:
            change = Change("delete", KIND, name, note="with its results; a firing alert is resolved")
            planning.step(change, functools.partial(_delete, planning, name), late=True)


def _plan_check(planning: Planning, spec: spec_checks.Check, row: models.Check | None) -> None:
    plan_object(
        planning,
        KIND,
        spec.name,
        _desired(spec),
        _current(row) if row is not None else None,
        create=lambda: functools.partial(_create, planning, spec),
        update=lambda _fields: functools.partial(_update, planning, spec),
    )


def _create(planning: Planning, spec: spec_checks.Check, actor: Actor, now: datetime) -> None:
    checks.create(
        planning.session,
        actor,
        now,
        service_key=spec.service,
        name=spec.name,
        definition=_definition(spec),
        managed=True,
    )


def _update(planning: Planning, spec: spec_checks.Check, actor: Actor, now: datetime) -> None:
    checks.update(planning.session, actor, now, spec.name, _definition(spec), service_key=spec.service, managed=True)


def _delete(planning: Planning, name: str, actor: Actor, now: datetime) -> None:
    checks.delete(planning.session, actor, now, name)
