"""Planning `heartbeats`: the cron jobs and workers that ping Tocsin.

Heartbeats are identified by name. The ping URL is the one thing a heartbeat's
users hold, so it never changes behind their backs: `execute()` makes the uuid
when it creates a heartbeat and hands it back once as an `IssuedKey` of kind
`heartbeat` (the CLI prints the ping URL); later applies keep it, unless the
file fixes a `uuid` of its own. Writes go through `services.heartbeats`, which
checks them as the API does; a schedule that changes keeps the pings and the
status, and the engine judges the heartbeat by the new rule from its next
check. A managed heartbeat the file no longer names is deleted with its pings
(its firing alert, if any, is resolved); heartbeats made through the API are
left alone unless the file names them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from tocsin.config_file import heartbeats as spec_heartbeats
from tocsin.config_file.errors import Issue
from tocsin.services import heartbeats
from tocsin.services.actor import Actor
from tocsin.services.config_apply.steps import (
    Change,
    FieldChange,
    IssuedKey,
    Planning,
    Value,
    duration,
    plan_object,
    seconds,
)
from tocsin.storage import models
from tocsin.storage.repositories import heartbeats as repo

KIND = "heartbeat"


def _values(
    service: str,
    description: str,
    period_s: int | None,
    cron: str | None,
    time_zone: str,
    grace_s: int,
    min_run_s: int | None,
    max_run_s: int | None,
) -> dict[str, Value]:
    return {
        "service": service,
        "description": description,
        "period": duration(period_s),
        "cron": cron,
        # A period needs no time zone: showing UTC there would be noise in every plan.
        "time_zone": time_zone if cron is not None else None,
        "grace": duration(grace_s),
        "min_run": duration(min_run_s),
        "max_run": duration(max_run_s),
    }


def _desired(spec: spec_heartbeats.Heartbeat) -> dict[str, Value]:
    schedule = spec.schedule
    values = _values(
        spec.service,
        spec.description,
        seconds(schedule.period),
        schedule.cron,
        schedule.time_zone,
        seconds(schedule.grace) or 0,
        seconds(schedule.min_run),
        seconds(schedule.max_run),
    )
    # Without a uuid in the file the heartbeat keeps the one it has: nothing to compare.
    return {**values, **({"uuid": spec.uuid} if spec.uuid is not None else {}), "managed": True}


def _current(row: models.Heartbeat, with_uuid: bool) -> dict[str, Value]:
    values = _values(
        row.service.key,
        row.description,
        row.period_s,
        row.cron,
        row.time_zone,
        row.grace_s,
        row.min_run_s,
        row.max_run_s,
    )
    return {**values, **({"uuid": row.uuid} if with_uuid else {}), "managed": row.managed}


def plan_heartbeats(planning: Planning, specs: Sequence[spec_heartbeats.Heartbeat]) -> None:
    rows = {row.name: row for row in heartbeats.list_heartbeats(planning.session)}
    for index, spec in enumerate(specs):
        _plan_heartbeat(planning, index, spec, rows.get(spec.name))
    declared = {spec.name for spec in specs}
    for name, stale in rows.items():
        if stale.managed and name not in declared:
            change = Change("delete", KIND, name, note="with its pings: its ping URL stops working")
            planning.step(change, functools.partial(_delete, planning, name), late=True)


def _plan_heartbeat(
    planning: Planning, index: int, spec: spec_heartbeats.Heartbeat, row: models.Heartbeat | None
) -> None:
    if spec.uuid is not None:
        holder = repo.by_uuid(planning.session, spec.uuid)
        if holder is not None and holder is not row:
            message = f"heartbeat {holder.name!r} has this uuid; a ping URL belongs to one heartbeat"
            planning.issues.append(Issue(("heartbeats", index, "uuid"), message))
            return
    extra: tuple[FieldChange, ...] = ()
    if row is None:
        extra = (FieldChange("uuid", None, spec.uuid or "(generated; the ping URL is printed once applied)"),)
    plan_object(
        planning,
        KIND,
        spec.name,
        _desired(spec),
        _current(row, spec.uuid is not None) if row is not None else None,
        create=lambda: functools.partial(_create, planning, spec),
        update=lambda fields: functools.partial(_update, planning, spec, row),
        implied=("uuid",),
        extra=extra,
    )


def _create(planning: Planning, spec: spec_heartbeats.Heartbeat, actor: Actor, now: datetime) -> IssuedKey | None:
    row = heartbeats.create(
        planning.session,
        actor,
        now,
        service_key=spec.service,
        name=spec.name,
        schedule=spec.schedule,
        description=spec.description,
        uuid=spec.uuid,
        managed=True,
    )
    # A uuid from the file is one the jobs already ping.
    return IssuedKey(spec.service, spec.name, KIND, row.uuid) if spec.uuid is None else None


def _update(
    planning: Planning,
    spec: spec_heartbeats.Heartbeat,
    row: models.Heartbeat | None,
    actor: Actor,
    now: datetime,
) -> None:
    assert row is not None, "only a heartbeat that exists is updated"
    heartbeats.update(
        planning.session,
        actor,
        now,
        row.name,
        description=spec.description,
        schedule=spec.schedule,
        service_key=spec.service,
        uuid=spec.uuid,
    )
    row.managed = True


def _delete(planning: Planning, name: str, actor: Actor, now: datetime) -> None:
    heartbeats.delete(planning.session, actor, now, name)
