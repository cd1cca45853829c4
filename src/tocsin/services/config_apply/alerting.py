"""Planning `integrations`, `routes` and `maintenance_windows`: how alerts come in and where they go.

Integrations are identified by (service, name) and only disabled when removed,
because their alerts stay; a service's routing rules are one ordered list,
replaced whenever it differs; a maintenance window that is on is ended, one
that has ended is history and never touched.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from tocsin.clock import as_utc
from tocsin.config_file import schema
from tocsin.config_file.errors import Issue, Path
from tocsin.domain import ci
from tocsin.domain import crashes as crash_rules
from tocsin.services import audit, directory, routing
from tocsin.services import integrations as integrations_service
from tocsin.services.actor import Actor
from tocsin.services.config_apply.steps import (
    Change,
    FieldChange,
    IssuedKey,
    Planning,
    Value,
    changes_detail,
    created,
    diff,
    duration,
    instant,
    json_text,
    matcher_text,
    plan_object,
    plural,
)
from tocsin.storage import models
from tocsin.storage.repositories import alerts as alerts_repo
from tocsin.storage.repositories import directory as directory_repo

# ---- integrations ---------------------------------------------------------------------


def _integration_settings(spec: schema.IntegrationSettings, kind: str = "") -> dict[str, Any]:
    """The settings column of an integration, as `integrations.check_settings` reads it."""
    auto_resolve = spec.auto_resolve
    if kind and "auto_resolve" not in spec.model_fields_set:
        auto_resolve = integrations_service.default_auto_resolve(integrations_service.Kind(kind)).value  # as the API
    settings: dict[str, Any] = {
        "group_by": list(spec.group_by),
        "group_window_s": int(spec.group_window.total_seconds()),
        "auto_resolve": auto_resolve,
    }
    if spec.default_severity is not None:
        settings["default_severity"] = spec.default_severity
    if spec.mapping is not None:
        settings["mapping"] = dict(spec.mapping)
    # github's CI failure thresholds (domain.ci.SETTINGS); left out, ingestion reads the defaults.
    if spec.failures_in_a_row is not None:
        settings["failures_in_a_row"] = spec.failures_in_a_row
    if spec.failures_in_window is not None:
        settings["failures_in_window"] = spec.failures_in_window
    if spec.failure_window is not None:
        settings["failure_window_s"] = int(spec.failure_window.total_seconds())
    # sentry's spike rule (domain.crashes.SETTINGS); integrations.check_settings checks the bounds.
    if spec.spike_events is not None:
        settings["spike_events"] = spec.spike_events
    if spec.spike_minutes is not None:
        settings["spike_minutes"] = spec.spike_minutes
    return settings


def _integration_values(kind: str, settings: Mapping[str, Any]) -> dict[str, Value]:
    """What the plan shows of an integration; settings left out read as their defaults, as ingestion reads them."""
    window = int(settings.get("group_window_s", integrations_service.DEFAULT_GROUP_WINDOW.total_seconds()))
    mapping: Mapping[str, Any] = settings.get("mapping") or {}
    values: dict[str, Value] = {
        "kind": kind,
        "group_by": [str(label) for label in settings.get("group_by", [])],
        "group_window": duration(window) if window else "0s",
        "auto_resolve": str(settings.get("auto_resolve", "monitoring")),
        "default_severity": settings.get("default_severity"),
        "mapping": [f"{name}={json_text(value)}" for name, value in sorted(mapping.items())],
    }
    if kind == integrations_service.Kind.SENTRY.value:
        spike = crash_rules.SpikeRule.of(settings)
        values["spike_events"] = spike.events
        values["spike_minutes"] = int(spike.window.total_seconds() // 60)
    if kind == integrations_service.Kind.GITHUB.value:
        thresholds = ci.thresholds_of(settings)
        values["failures_in_a_row"] = thresholds.in_a_row
        values["failures_in_window"] = thresholds.in_window
        values["failure_window"] = duration(int(thresholds.window.total_seconds()))
    return values


def plan_integrations(planning: Planning, specs: Sequence[schema.Integration]) -> None:
    rows = sorted(alerts_repo.list_integrations(planning.session), key=lambda row: (not row.managed, row.id))
    chosen: dict[tuple[str, str], models.Integration] = {}
    for candidate in rows:
        # Names are not unique through the API: the file claims the managed one, else the oldest.
        chosen.setdefault((candidate.service.key, candidate.name), candidate)
    claimed = set()
    for index, spec in enumerate(specs):
        row = chosen.get((spec.service, spec.display_name))
        if row is not None:
            claimed.add(row.id)
        _integration(planning, index, spec, row)
    for stale in rows:
        if stale.managed and stale.disabled_at is None and stale.id not in claimed:
            planning.step(
                Change(
                    "delete",
                    "integration",
                    f"{stale.service.key}/{stale.name}",
                    note="disabled: its key stops working, its alerts stay",
                ),
                functools.partial(_disable_integration, planning, stale),
                late=True,
            )


def _integration(planning: Planning, index: int, spec: schema.Integration, row: models.Integration | None) -> None:
    usable, key = _key_from_env(planning, index, spec, row)
    secret_usable, secret = _secret_from_env(planning, index, spec)
    if not usable or not secret_usable:
        return
    settings = _integration_settings(spec.settings, spec.kind)
    desired: dict[str, Value] = {
        **_integration_values(spec.kind, settings),
        "signing_secret": _secret_shown(spec, secret, row),
        "disabled": False,
        "managed": True,
    }
    current: dict[str, Value] | None = None
    extra: tuple[FieldChange, ...] = ()
    if row is None:
        source = "(generated)" if key is None else f"(from ${spec.key_env})"
        extra = (FieldChange("key", None, source),)
    else:
        current = {
            **_integration_values(row.kind, row.settings or {}),
            "signing_secret": _SET if row.signing_secret else None,
            "disabled": row.disabled_at is not None,
            "managed": row.managed,
        }
        if key is not None and integrations_service.hash_key(key) != row.key_hash:
            extra = (FieldChange("key", f"{row.key_prefix}…", f"{key[:8]}… (from ${spec.key_env})"),)
    plan_object(
        planning,
        "integration",
        f"{spec.service}/{spec.display_name}",
        desired,
        current,
        create=lambda: functools.partial(_create_integration, planning, spec, settings, key, secret),
        update=lambda fields: functools.partial(
            _update_integration, planning, row, spec, settings, key, secret, fields
        ),
        extra=extra,
        update_note="enabled again" if row is not None and row.disabled_at is not None else "",
    )


_SET = "(set)"
# As for channels' signing secrets (a short HMAC key can be guessed from its signatures), at most
# what the API takes.
_SECRET_LENGTH = (16, 200)


def _secret_from_env(planning: Planning, index: int, spec: schema.Integration) -> tuple[bool, str | None]:
    """(usable, secret): the webhook secret `secret_env` names; no `secret_env` is usable with none."""
    if spec.secret_env is None:
        return True, None
    secret = planning.env.get(spec.secret_env, "").strip()
    low, high = _SECRET_LENGTH
    if not low <= len(secret) <= high:
        # The messages name the variable, never its value: plans end up in CI logs.
        state = "is not set" if not secret else f"does not hold {low} to {high} characters"
        planning.issues.append(
            Issue(("integrations", index, "secret_env"), f"environment variable {spec.secret_env} {state}")
        )
        return False, None
    return True, secret


def _secret_shown(spec: schema.Integration, secret: str | None, row: models.Integration | None) -> str | None:
    """Only whether a secret is set, and where a new one comes from: never the secret."""
    if secret is None:
        return None
    if row is not None and row.signing_secret == secret:
        return _SET
    return f"(from ${spec.secret_env})"


def _key_from_env(
    planning: Planning, index: int, spec: schema.Integration, row: models.Integration | None
) -> tuple[bool, str | None]:
    """(usable, key): no `key_env` is usable with no key (one is made on create, kept on update)."""
    if spec.key_env is None:
        return True, None
    path: Path = ("integrations", index, "key_env")
    key = planning.env.get(spec.key_env, "").strip()
    # The messages name the variable, never its value: plans end up in CI logs.
    if not key:
        planning.issues.append(
            Issue(path, f"environment variable {spec.key_env} is not set; apply reads the key from it")
        )
        return False, None
    if not 20 <= len(key) <= 64 or not key.isascii() or not key.isalnum():
        planning.issues.append(Issue(path, f"{spec.key_env} does not hold a usable key: 20 to 64 letters and digits"))
        return False, None
    other = alerts_repo.integration_by_key_hash(planning.session, integrations_service.hash_key(key))
    if other is not None and other is not row:
        planning.issues.append(
            Issue(path, f"the key in {spec.key_env} belongs to integration {other.service.key}/{other.name}")
        )
        return False, None
    return True, key


def _create_integration(
    planning: Planning,
    spec: schema.Integration,
    settings: dict[str, Any],
    key: str | None,
    secret: str | None,
    actor: Actor,
    now: datetime,
) -> IssuedKey | None:
    made = integrations_service.create(
        planning.session,
        actor,
        now,
        service_key=spec.service,
        kind=spec.kind,
        name=spec.display_name,
        settings=settings,
        signing_secret=secret,
        key=key,
        managed=True,
    )
    # A key from the environment is one the user already has.
    return IssuedKey(spec.service, made.row.name, spec.kind, made.key, made.row.id) if key is None else None


def _update_integration(
    planning: Planning,
    row: models.Integration | None,
    spec: schema.Integration,
    settings: dict[str, Any],
    key: str | None,
    secret: str | None,
    fields: Sequence[FieldChange],
    actor: Actor,
    now: datetime,
) -> None:
    assert row is not None, "only an integration that exists is updated"
    kind = integrations_service.Kind(spec.kind)
    row.kind = kind.value
    row.settings = integrations_service.check_settings(kind, settings)
    # The file is the truth: a secret it no longer names is removed.
    row.signing_secret = secret
    if key is not None:
        row.key_hash = integrations_service.hash_key(key)
        row.key_prefix = key[:8]
    row.disabled_at = None
    row.managed = True
    audit.record(planning.session, actor, now, "update", "integration", row.name, changes_detail(fields))


def _disable_integration(planning: Planning, row: models.Integration, actor: Actor, now: datetime) -> None:
    row.disabled_at = now
    audit.record(planning.session, actor, now, "disable", "integration", row.name, {"service": row.service.key})


# ---- routes ---------------------------------------------------------------------------

# matchers, severity, route_to, drop, urgency, continue: what decides where an alert goes.
RuleShape: TypeAlias = tuple[tuple[str, ...], str | None, str | None, bool, str | None, bool]


def _rule_of_spec(rule: schema.RouteRule) -> RuleShape:
    return (tuple(rule.match), rule.severity, rule.route_to, rule.drop, rule.urgency, rule.continue_)


def _rule_of_row(rule: models.RoutingRule) -> RuleShape:
    route_to = rule.route_to.key if rule.route_to is not None else None
    matchers = tuple(matcher_text(m) for m in rule.matchers)
    return (matchers, rule.severity, route_to, rule.drop, rule.urgency, rule.continue_)


def _rule_text(rule: RuleShape) -> str:
    """`severity="critical" → severity P0, continue`, one line per rule in the plan."""
    matchers, severity, route_to, drop, urgency, continue_ = rule
    then = ["drop"] if drop else []
    then += [f"severity {severity}"] if severity else []
    then += [f"route to {route_to}"] if route_to else []
    then += [f"urgency {urgency}"] if urgency else []
    then += ["continue"] if continue_ else []
    return f"{', '.join(matchers) or 'any alert'} → {', '.join(then) or 'no change'}"


def _rule_changes(old: Sequence[RuleShape], new: Sequence[RuleShape]) -> tuple[FieldChange, ...]:
    changes = []
    for index in range(max(len(old), len(new))):
        before = _rule_text(old[index]) if index < len(old) else None
        after = _rule_text(new[index]) if index < len(new) else None
        if before != after:
            changes.append(FieldChange(f"rules[{index}]", before, after))
    return tuple(changes)


def plan_routes(planning: Planning, specs: Sequence[schema.Route]) -> None:
    session = planning.session
    services = {row.id: row for row in directory_repo.list_services(session, include_archived=True)}
    by_key = {row.key: row for row in services.values()}
    managed: dict[str, list[models.RoutingRule]] = {}
    for rule in alerts_repo.managed_rules(session):
        managed.setdefault(services[rule.service_id].key, []).append(rule)
    for spec in specs:
        rows = managed.get(spec.service, [])
        old = [_rule_of_row(row) for row in rows]
        new = [_rule_of_spec(rule) for rule in spec.rules]
        if old == new:
            continue
        service = by_key.get(spec.service)
        others = len(alerts_repo.rules_for(session, service.id)) - len(rows) if service is not None else 0
        note = f"after these: {plural(others, 'rule')} made outside the file" if others and new else ""
        if not new:
            change = Change("delete", "routes", spec.service, note=plural(len(old), "rule"))
        else:
            change = Change("create" if not old else "update", "routes", spec.service, _rule_changes(old, new), note)
        planning.step(change, functools.partial(_replace_rules, planning, spec.service, rows, spec.rules))
    declared = {spec.service for spec in specs}
    for key, rows in managed.items():
        if key not in declared:
            planning.step(
                Change("delete", "routes", key, note=plural(len(rows), "rule")),
                functools.partial(_replace_rules, planning, key, rows, ()),
                late=True,
            )


def _replace_rules(
    planning: Planning,
    service_key: str,
    rows: Sequence[models.RoutingRule],
    specs: Sequence[schema.RouteRule],
    actor: Actor,
    now: datetime,
) -> None:
    session = planning.session
    for row in rows:
        routing.delete_rule(session, actor, now, row.id)
    if not specs:
        return
    service = directory.get_service(session, service_key)
    # The file's rules go before those made through the API: positions below theirs,
    # without renumbering rows the file does not own.
    lowest = min((rule.position for rule in alerts_repo.rules_for(session, service.id)), default=len(specs))
    start = min(0, lowest - len(specs))
    for offset, rule in enumerate(specs):
        routing.add_rule(
            session,
            actor,
            now,
            service_key=service_key,
            matchers=rule.match,
            severity=rule.severity,
            route_to=rule.route_to,
            drop=rule.drop,
            urgency=rule.urgency,
            continue_=rule.continue_,
            position=start + offset,
            managed=True,
        )


# ---- maintenance windows --------------------------------------------------------------


def plan_windows(planning: Planning, specs: Sequence[schema.MaintenanceWindow]) -> None:
    now = planning.now
    rows = alerts_repo.list_windows(planning.session)
    chosen: dict[str, models.MaintenanceWindow] = {}
    # A window that is on or to come first (managed before unmanaged); else the latest managed
    # one that ended, so that applying a file with a past window again changes nothing.
    for candidate in sorted(rows, key=lambda w: (as_utc(w.ends_at) <= now, not w.managed, -w.id)):
        if candidate.managed or as_utc(candidate.ends_at) > now:
            chosen.setdefault(candidate.name, candidate)
    for spec in specs:
        _window(planning, spec, chosen.get(spec.name))
    declared = {spec.name for spec in specs}
    for stale in sorted(rows, key=lambda w: (as_utc(w.starts_at), w.id)):
        if not stale.managed or stale.name in declared or as_utc(stale.ends_at) <= now:
            continue
        if as_utc(stale.starts_at) <= now:
            planning.step(
                Change("delete", "maintenance window", stale.name, note="on now: it ends now and stays on record"),
                functools.partial(_end_window, planning, stale),
                late=True,
            )
        else:
            planning.step(
                Change("delete", "maintenance window", stale.name),
                planning.delete(stale, "maintenance_window", stale.name),
                late=True,
            )


def _window(planning: Planning, spec: schema.MaintenanceWindow, row: models.MaintenanceWindow | None) -> None:
    desired: dict[str, Value] = {
        "service": spec.service,
        "match": list(spec.match),
        "starts_at": instant(spec.starts_at),
        "ends_at": instant(spec.end),
        "managed": True,
    }
    if row is None or as_utc(row.ends_at) <= planning.now:
        if row is not None and not diff(_window_current(row), desired):
            return
        # An ended window is the record of what it held: a new one, never an edit.
        note = f"the one that ended {instant(row.ends_at)} stays on record" if row is not None else ""
        planning.step(
            Change("create", "maintenance window", spec.name, created(desired), note),
            functools.partial(_create_window, planning, spec),
        )
        return
    plan_object(
        planning,
        "maintenance window",
        spec.name,
        desired,
        _window_current(row),
        create=lambda: functools.partial(_create_window, planning, spec),
        update=lambda fields: functools.partial(_update_window, planning, row, spec, fields),
    )


def _window_current(row: models.MaintenanceWindow) -> dict[str, Value]:
    return {
        "service": row.service.key if row.service is not None else None,
        "match": [matcher_text(m) for m in row.matchers],
        "starts_at": instant(row.starts_at),
        "ends_at": instant(row.ends_at),
        "managed": row.managed,
    }


def _create_window(planning: Planning, spec: schema.MaintenanceWindow, actor: Actor, now: datetime) -> None:
    routing.add_window(
        planning.session,
        actor,
        now,
        name=spec.name,
        starts_at=spec.starts_at,
        ends_at=spec.end,
        service_key=spec.service,
        matchers=spec.match,
        managed=True,
    )


def _update_window(
    planning: Planning,
    row: models.MaintenanceWindow,
    spec: schema.MaintenanceWindow,
    fields: Sequence[FieldChange],
    actor: Actor,
    now: datetime,
) -> None:
    row.service = directory.get_service(planning.session, spec.service) if spec.service is not None else None
    row.matchers = list(spec.match)
    row.starts_at = spec.starts_at
    row.ends_at = spec.end
    row.managed = True
    audit.record(planning.session, actor, now, "update", "maintenance_window", row.name, changes_detail(fields))


def _end_window(planning: Planning, row: models.MaintenanceWindow, actor: Actor, now: datetime) -> None:
    routing.end_window(planning.session, actor, now, row.id)
