"""Planning the paging sections: `schedules`, `escalation_policies`, a service's `escalation_policy`,
and each user's `contact_methods`, `notification_rules` and `quiet_hours`.

The writes go through `services.schedules`, `policies` and `contacts`, which
validate through the pure domain rules (the file was checked by the same rules
in `tocsin validate`). Order: users before schedules, schedules before
policies, policies before the services that use them; removals the other way
round, so `plan()` plans the removals returned here after the services'.

A contact method's address may be a secret (a webhook URL is a credential):
the plan shows it masked, as the API shows it to non-admins, and messages
name the variable of `address_env`, never its value. A signing secret
(`signing_secret_env`) is never shown at all: the plan says "set", "changed"
or "none". A user's list of contact
methods is the whole truth about that user's methods once the file has it;
notification rules are one ordered list per user, replaced when it differs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from tocsin.config_file import paging as spec_paging
from tocsin.config_file import schema
from tocsin.config_file.errors import Issue, Path
from tocsin.domain import notify
from tocsin.errors import ValidationFailed
from tocsin.services import audit, contacts, policies, schedules
from tocsin.services.actor import Actor
from tocsin.services.config_apply.steps import (
    Action,
    Change,
    FieldChange,
    Planning,
    Run,
    Section,
    Value,
    address_from,
    changes_detail,
    duration,
    instant,
    plan_object,
    plan_section,
    seconds,
)
from tocsin.storage import models
from tocsin.storage.repositories import directory as directory_repo
from tocsin.storage.repositories import paging as repo

Removals = list[tuple[Change, Run]]


# ---- schedules ----------------------------------------------------------------------


def _wall(layer: spec_paging.Layer, zone: str) -> str:
    start = layer.start
    if start.tzinfo is not None:
        start = start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return start.replace(fold=0).isoformat()


def _layer_text(
    kind: str, every: int, start: str, zone: str, people: Sequence[str], limits: Sequence[str], end: datetime | None
) -> str:
    """`weekly every 1 from 2026-11-30T09:00:00 Europe/Berlin: a@x, b@x; mon-fri 09:00-17:00`, one line per layer."""
    text = f"{kind} every {every} from {start} {zone}: {', '.join(email.lower() for email in people)}"
    text += f"; {'; '.join(limits)}" if limits else ""
    return text + (f"; until {instant(end)}" if end is not None else "")


def _schedule_desired(spec: spec_paging.Schedule) -> dict[str, Value]:
    values: dict[str, Value] = {"name": spec.name or spec.key, "time_zone": spec.time_zone}
    for layer in spec.layers:
        zone = layer.time_zone or spec.time_zone
        limits = [f"{','.join(r.days)} {r.start}-{r.end}" for r in layer.restrictions]
        values[f"layers.{layer.name}"] = _layer_text(
            layer.kind, layer.every, _wall(layer, zone), zone, layer.participants, limits, layer.end
        )
    values["overrides"] = sorted(f"{o.user.lower()} {instant(o.start)} → {instant(o.end)}" for o in spec.overrides)
    values["managed"] = True
    return values


def _schedule_current(row: models.Schedule) -> dict[str, Value]:
    values: dict[str, Value] = {"name": row.name, "time_zone": row.time_zone}
    for layer in row.layers:
        limits = [f"{','.join(r['days'])} {r['start']}-{r['end']}" for r in layer.restrictions]
        values[f"layers.{layer.name}"] = _layer_text(
            layer.kind, layer.every, layer.start, layer.time_zone, layer.participants, limits, layer.end_at
        )
    values["overrides"] = sorted(
        f"{o.user.email.lower()} {instant(o.starts_at)} → {instant(o.ends_at)}" for o in row.overrides
    )
    values["managed"] = row.managed
    return values


def _layer_specs(spec: spec_paging.Schedule) -> list[schedules.LayerSpec]:
    return [
        schedules.LayerSpec(
            name=layer.name,
            participants=list(layer.participants),
            start=layer.start,
            kind=layer.kind,
            every=layer.every,
            time_zone=layer.time_zone,
            restrictions=[schedules.RestrictionSpec(r.days, r.start, r.end) for r in layer.restrictions],
            end=layer.end,
        )
        for layer in spec.layers
    ]


def plan_schedules(planning: Planning, specs: Sequence[spec_paging.Schedule] | None) -> Removals:
    rows = {row.key: row for row in repo.list_schedules(planning.session)}
    removals: Removals = []
    if specs is None:
        planning.schedules_after = set(rows)
        return removals
    paging_policies = {row.key: row for row in repo.list_policies(planning.session)}
    declared_policies = {p.key for p in planning.document.escalation_policies or ()}

    def remove(key: str, row: models.Schedule) -> tuple[Change, Run] | None:
        if not row.managed:
            return None
        # A policy the file does not manage would be left paging nobody at this level.
        kept = [
            policy.key
            for policy in paging_policies.values()
            if not policy.managed and policy.key not in declared_policies and _pages_schedule(policy, key)
        ]
        if kept:
            message = f"schedule {key!r} is paged by escalation policies {', '.join(kept)}; change them first"
            planning.issues.append(Issue(("schedules",), message))
            return None
        return Change("delete", "schedule", key), functools.partial(_delete_schedule, planning, key)

    planning.schedules_removed = plan_section(
        planning,
        Section(
            kind="schedule",
            rows=rows,
            key=lambda spec: spec.key,
            desired=_schedule_desired,
            current=_schedule_current,
            create=lambda spec: functools.partial(_create_schedule, planning, spec),
            update=lambda spec, row, fields: functools.partial(_update_schedule, planning, row, spec, fields),
            remove=remove,
        ),
        specs,
        removals=removals,
    )
    planning.schedules_after = (set(rows) - planning.schedules_removed) | {spec.key for spec in specs}
    return removals


def _pages_schedule(policy: models.EscalationPolicy, key: str) -> bool:
    return any(t.get("kind") == "schedule" and t.get("key") == key for level in policy.levels for t in level.targets)


def _create_schedule(planning: Planning, spec: spec_paging.Schedule, actor: Actor, now: datetime) -> None:
    schedules.create_schedule(
        planning.session,
        actor,
        now,
        key=spec.key,
        name=spec.name or spec.key,
        time_zone=spec.time_zone,
        layers=_layer_specs(spec),
        managed=True,
    )
    for override in spec.overrides:
        schedules.add_override(
            planning.session, actor, now, spec.key, user=override.user, start=override.start, end=override.end
        )


def _update_schedule(
    planning: Planning,
    row: models.Schedule,
    spec: spec_paging.Schedule,
    fields: Sequence[FieldChange],
    actor: Actor,
    now: datetime,
) -> None:
    schedules.update_schedule(
        planning.session,
        actor,
        now,
        spec.key,
        name=spec.name or spec.key,
        time_zone=spec.time_zone,
        layers=_layer_specs(spec),
    )
    row.managed = True
    wanted = {(o.user.lower(), instant(o.start), instant(o.end)): o for o in spec.overrides}
    for override in list(row.overrides):
        identity = (override.user.email.lower(), instant(override.starts_at), instant(override.ends_at))
        if wanted.pop(identity, None) is None:
            schedules.remove_override(planning.session, actor, now, spec.key, override.id)
    for override_spec in wanted.values():
        schedules.add_override(
            planning.session,
            actor,
            now,
            spec.key,
            user=override_spec.user,
            start=override_spec.start,
            end=override_spec.end,
        )


def _delete_schedule(planning: Planning, key: str, actor: Actor, now: datetime) -> None:
    schedules.delete_schedule(planning.session, actor, now, key)


# ---- escalation policies ------------------------------------------------------------


def _level_text(targets: Sequence[tuple[str, str]], delay_s: int) -> str:
    """`schedule primary, user cto@x; then 5m`, one line per level."""
    named = ", ".join(f"{kind} {key.lower() if kind == 'user' else key}" for kind, key in targets)
    return f"{named}; then {duration(delay_s) or '0s'}" if delay_s else f"{named}; at once"


def _variant_text(severity: str, kind: str, step_delay_s: int | None) -> str:
    return f"{severity}: {kind}" + (f" every {duration(step_delay_s)}" if step_delay_s else "")


def _policy_desired(spec: spec_paging.EscalationPolicy) -> dict[str, Value]:
    values: dict[str, Value] = {"name": spec.name or spec.key, "repeat": spec.repeat}
    for index, level in enumerate(spec.levels):
        targets = [(t.kind, t.key) for t in level.targets]
        values[f"levels[{index}]"] = _level_text(targets, seconds(level.delay) or 0)
    values["variants"] = sorted(_variant_text(name, v.kind, seconds(v.step_delay)) for name, v in spec.variants.items())
    values["managed"] = True
    return values


def _policy_current(row: models.EscalationPolicy) -> dict[str, Value]:
    values: dict[str, Value] = {"name": row.name, "repeat": row.repeat}
    for index, level in enumerate(row.levels):
        values[f"levels[{index}]"] = _level_text([(t["kind"], t["key"]) for t in level.targets], level.delay_s)
    values["variants"] = sorted(
        _variant_text(name, v["kind"], v.get("step_delay_s")) for name, v in row.variants.items()
    )
    values["managed"] = row.managed
    return values


def plan_policies(planning: Planning, specs: Sequence[spec_paging.EscalationPolicy] | None) -> Removals:
    rows = {row.key: row for row in repo.list_policies(planning.session)}
    removals: Removals = []
    if specs is None:
        planning.policies_after = set(rows)
        return removals
    for index, spec in enumerate(specs):
        # The file may switch schemes: variants are checked against the levels incidents will have.
        for name in spec.variants:
            if planning.levels_after is not None and name not in planning.levels_after:
                levels = ", ".join(planning.levels_after)
                path: Path = ("escalation_policies", index, "variants", name)
                message = f"not a level of the active severity scheme {planning.active_after!r} ({levels})"
                planning.issues.append(Issue(path, message))

    def remove(key: str, row: models.EscalationPolicy) -> tuple[Change, Run] | None:
        if not row.managed:
            return None
        return Change("delete", "escalation policy", key), functools.partial(_delete_policy, planning, key)

    planning.policies_removed = plan_section(
        planning,
        Section(
            kind="escalation policy",
            rows=rows,
            key=lambda spec: spec.key,
            desired=_policy_desired,
            current=_policy_current,
            create=lambda spec: functools.partial(_create_policy, planning, spec),
            update=lambda spec, row, fields: functools.partial(_update_policy, planning, row, spec),
            remove=remove,
        ),
        specs,
        removals=removals,
    )
    planning.policies_after = (set(rows) - planning.policies_removed) | {spec.key for spec in specs}
    return removals


def _create_policy(planning: Planning, spec: spec_paging.EscalationPolicy, actor: Actor, now: datetime) -> None:
    policies.create_policy(
        planning.session,
        actor,
        now,
        key=spec.key,
        name=spec.name or spec.key,
        levels=_levels(spec),
        repeat=spec.repeat,
        variants=_variants(spec),
        managed=True,
    )


def _levels(spec: spec_paging.EscalationPolicy) -> list[policies.LevelSpec]:
    return [
        policies.LevelSpec(seconds(level.delay) or 0, [policies.TargetSpec(t.kind, t.key) for t in level.targets])
        for level in spec.levels
    ]


def _variants(spec: spec_paging.EscalationPolicy) -> dict[str, policies.VariantSpec]:
    return {name: policies.VariantSpec(v.kind, seconds(v.step_delay)) for name, v in spec.variants.items()}


def _update_policy(
    planning: Planning, row: models.EscalationPolicy, spec: spec_paging.EscalationPolicy, actor: Actor, now: datetime
) -> None:
    policies.update_policy(
        planning.session,
        actor,
        now,
        spec.key,
        name=spec.name or spec.key,
        levels=_levels(spec),
        repeat=spec.repeat,
        variants=_variants(spec),
    )
    row.managed = True


def _delete_policy(planning: Planning, key: str, actor: Actor, now: datetime) -> None:
    policy = policies.get_policy(planning.session, key)
    # Planning made sure only services apply archives still use it: they stop paging anyway.
    for service in repo.services_using_policy(planning.session, policy.id):
        service.escalation_policy = None
    policies.delete_policy(planning.session, actor, now, key)


def check_policy_removals(planning: Planning) -> None:
    """After services are planned: a removed policy must not be left on a service that stays."""
    if not planning.policies_removed:
        return
    linked = {
        spec.key: spec.escalation_policy
        for spec in planning.document.services or ()
        if "escalation_policy" in spec.model_fields_set
    }
    for row in directory_repo.list_services(planning.session, include_archived=False):
        policy = row.escalation_policy
        if policy is None or policy.key not in planning.policies_removed or row.key in planning.services_removed:
            continue
        if row.key in linked and linked[row.key] != policy.key:
            continue
        message = f"escalation policy {policy.key!r} is used by service {row.key!r}; give the service another first"
        planning.issues.append(Issue(("escalation_policies",), message))


# ---- a service's policy ---------------------------------------------------------------


def service_policy(spec: schema.Service) -> dict[str, Value]:
    """The plan's view of a service's `escalation_policy`: only when the file writes it."""
    return {"escalation_policy": spec.escalation_policy} if "escalation_policy" in spec.model_fields_set else {}


def link_policy(planning: Planning, spec: schema.Service, actor: Actor, now: datetime) -> None:
    if "escalation_policy" in spec.model_fields_set:
        policies.set_service_policy(planning.session, actor, now, spec.key, spec.escalation_policy)


# ---- how each user is reached -------------------------------------------------------


def plan_contacts(planning: Planning, specs: Sequence[schema.User] | None) -> None:
    rows = {row.email.lower(): row for row in directory_repo.list_users(planning.session, include_inactive=True)}
    for index, spec in enumerate(specs or ()):
        row = rows.get(spec.email.lower())
        base: Path = ("users", index)
        if spec.contact_methods is not None:
            _methods(planning, base, spec, row)
        if spec.notification_rules is not None:
            _rules(planning, spec, row)
        if "quiet_hours" in spec.model_fields_set:
            _quiet_hours(planning, spec, row)


def _address(planning: Planning, path: Path, spec: spec_paging.ContactMethod) -> tuple[str, str] | None:
    return address_from(planning, path, spec.kind, spec.address, spec.address_env, "contact method")


def _signing_secret(planning: Planning, path: Path, spec: spec_paging.ContactMethod) -> tuple[bool, str | None]:
    """(usable, the secret or None for none); an issue when the variable is unset or unusable."""
    variable = spec.signing_secret_env
    if variable is None:
        return True, None
    secret = planning.env.get(variable, "")
    where = (*path, "signing_secret_env")
    if not secret:
        planning.issues.append(
            Issue(where, f"environment variable {variable} is not set; apply reads the signing secret there")
        )
        return False, None
    try:
        contacts.check_signing_secret(notify.ContactKind(spec.kind), secret)
    except ValidationFailed as exc:
        # The message describes what a secret must be; it never quotes the value.
        planning.issues.append(Issue(where, f"{variable}: {exc.message}"))
        return False, None
    return True, secret


def _secret_change(
    variable: str | None, old: str | None, new: str | None, *, creating: bool = False
) -> tuple[FieldChange, ...]:
    """How the plan shows a signing secret's change: whether there is one, never what it is."""
    if old == new:
        return ()
    after = "none" if new is None else f"{'set' if old is None else 'changed'} (from ${variable})"
    before = None if creating else ("none" if old is None else "set")
    return (FieldChange("signing_secret", before, after),)


def _methods(planning: Planning, base: Path, spec: schema.User, user: models.User | None) -> None:
    rows = {m.name: m for m in repo.contact_methods_of(planning.session, user.id)} if user is not None else {}
    for index, method in enumerate(spec.contact_methods or ()):
        _method(planning, (*base, "contact_methods", index), spec.email, method, rows.get(method.name))
    declared = {method.name for method in spec.contact_methods or ()}
    for name in rows:
        if name not in declared:
            planning.step(
                Change("delete", "contact method", f"{spec.email}/{name}", note="with its notification rules"),
                functools.partial(_remove_method, planning, spec.email, name),
                late=True,
            )


def _method(
    planning: Planning, path: Path, email: str, method: spec_paging.ContactMethod, row: models.ContactMethod | None
) -> None:
    found = _address(planning, path, method)
    usable, secret = _signing_secret(planning, path, method)
    if found is None or not usable:
        return
    address, shown = found
    desired: dict[str, Value] = {"kind": method.kind, "mention": method.mention, "high_urgency": method.high_urgency}
    current: dict[str, Value] | None = None
    extra: tuple[FieldChange, ...] = (FieldChange("address", None, shown),)
    extra += _secret_change(method.signing_secret_env, None, secret, creating=True)
    if row is not None:
        current = {"kind": row.kind, "mention": row.mention, "high_urgency": row.high_urgency}
        old = contacts.masked(row.kind, row.address)
        extra = () if row.address == address else (FieldChange("address", old, shown),)
        extra += _secret_change(method.signing_secret_env, row.signing_secret, secret)
    plan_object(
        planning,
        "contact method",
        f"{email}/{method.name}",
        desired,
        current,
        create=lambda: functools.partial(_add_method, planning, email, method, address, secret),
        update=lambda fields: functools.partial(_update_method, planning, row, method, address, secret, fields),
        extra=extra,
    )


def _add_method(
    planning: Planning,
    email: str,
    spec: spec_paging.ContactMethod,
    address: str,
    secret: str | None,
    actor: Actor,
    now: datetime,
) -> None:
    contacts.add_contact_method(
        planning.session,
        actor,
        now,
        email,
        name=spec.name,
        kind=spec.kind,
        address=address,
        mention=spec.mention,
        high_urgency=spec.high_urgency,
        signing_secret=secret,
    )


def _update_method(
    planning: Planning,
    row: models.ContactMethod | None,
    spec: spec_paging.ContactMethod,
    address: str,
    secret: str | None,
    fields: Sequence[FieldChange],
    actor: Actor,
    now: datetime,
) -> None:
    assert row is not None, "only a contact method that exists is updated"
    if row.address != address or row.kind != spec.kind:
        row.verified = False  # a new destination has not been tested
        contacts.forget_code(row)  # a code sent to the old one must not verify the new one
    row.kind, row.address, row.mention, row.high_urgency = spec.kind, address, spec.mention, spec.high_urgency
    row.signing_secret = secret
    # The plan's fields show the address masked: safe for the audit log.
    audit.record(planning.session, actor, now, "update_contact_method", "user", row.user.email, changes_detail(fields))


def _remove_method(planning: Planning, email: str, name: str, actor: Actor, now: datetime) -> None:
    contacts.remove_contact_method(planning.session, actor, now, email, name)


def _rule_text(method: str, delay_s: int, urgency: str) -> str:
    return f"{method} after {duration(delay_s) or '0s'}, {urgency} urgency"


def _rules(planning: Planning, spec: schema.User, user: models.User | None) -> None:
    rows = list(repo.rules_of(planning.session, user.id)) if user is not None else []
    old = [_rule_text(r.contact_method.name, r.delay_s, r.urgency) for r in rows]
    new = [_rule_text(r.method, seconds(r.delay) or 0, r.urgency) for r in spec.notification_rules or ()]
    if old == new:
        return
    fields = tuple(
        FieldChange(f"rules[{i}]", old[i] if i < len(old) else None, new[i] if i < len(new) else None)
        for i in range(max(len(old), len(new)))
        if (old[i] if i < len(old) else None) != (new[i] if i < len(new) else None)
    )
    action: Action = "create" if not old else "delete" if not new else "update"
    planning.step(
        Change(action, "notification rules", spec.email, fields),
        functools.partial(_replace_rules, planning, spec, rows),
    )


def _replace_rules(
    planning: Planning, spec: schema.User, rows: Sequence[models.NotificationRule], actor: Actor, now: datetime
) -> None:
    for row in rows:
        contacts.remove_rule(planning.session, actor, now, spec.email, row.id)
    for rule in spec.notification_rules or ():
        contacts.add_rule(
            planning.session,
            actor,
            now,
            spec.email,
            contact_method=rule.method,
            delay_s=seconds(rule.delay) or 0,
            urgency=rule.urgency,
        )


def _quiet_hours(planning: Planning, spec: schema.User, user: models.User | None) -> None:
    row = repo.quiet_hours_of(planning.session, user.id) if user is not None else None
    quiet = spec.quiet_hours
    if quiet is None:
        if row is not None:
            planning.step(
                Change("delete", "quiet hours", spec.email),
                functools.partial(_clear_quiet_hours, planning, spec.email),
            )
        return
    desired: dict[str, Value] = {
        "start": quiet.start,
        "end": quiet.end,
        "weekdays": list(quiet.weekdays) if quiet.weekdays is not None else None,
    }
    current = None if row is None else {"start": row.start, "end": row.end, "weekdays": row.weekdays}
    plan_object(
        planning,
        "quiet hours",
        spec.email,
        desired,
        current,
        create=lambda: functools.partial(_set_quiet_hours, planning, spec.email, quiet),
        update=lambda fields: functools.partial(_set_quiet_hours, planning, spec.email, quiet),
    )


def _set_quiet_hours(
    planning: Planning, email: str, quiet: spec_paging.QuietHours, actor: Actor, now: datetime
) -> None:
    contacts.set_quiet_hours(
        planning.session, actor, now, email, start=quiet.start, end=quiet.end, weekdays=quiet.weekdays
    )


def _clear_quiet_hours(planning: Planning, email: str, actor: Actor, now: datetime) -> None:
    contacts.clear_quiet_hours(planning.session, actor, now, email)
