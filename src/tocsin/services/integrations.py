"""Integrations: a service's inbound door for one sender format, opened by a secret key.

Keys are 32 lowercase hex characters, the shape of a PagerDuty integration key,
so anything that validates a PagerDuty routing key accepts ours. They are shown
once and stored as SHA-256, like API tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from tocsin.domain import ci
from tocsin.domain import crashes as crash_rules
from tocsin.domain.alerts import AutoResolve
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.integrations import generic
from tocsin.services import audit, directory
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import alerts as repo


class Kind(StrEnum):
    NATIVE = "native"
    PAGERDUTY = "pagerduty"
    ALERTMANAGER = "alertmanager"
    OPSGENIE = "opsgenie"
    GRAFANA = "grafana"
    GENERIC = "generic"
    GITHUB = "github"
    # A Sentry project: SDKs send envelopes to /api/<integration id>/envelope/ (services.crashes).
    SENTRY = "sentry"
    # Internal: the door a service's heartbeats raise their alerts through (services.heartbeats).
    HEARTBEAT = "heartbeat"
    # Internal too: the door a service's health checks raise theirs through (services.checks).
    CHECK = "check"
    # Internal too: the door a service's drills fire their practice signals through (services.drills).
    DRILL = "drill"


INTERNAL_KINDS = frozenset({Kind.HEARTBEAT, Kind.CHECK, Kind.DRILL})

DEFAULT_GROUP_WINDOW = timedelta(minutes=5)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.strip().encode()).hexdigest()


@dataclass(frozen=True)
class IntegrationRef:
    """What ingestion needs to know about an integration; cached per process for a few seconds."""

    id: int
    name: str
    kind: Kind
    service_id: int
    service_key: str
    signing_secret: str | None
    group_by: tuple[str, ...] = ()
    group_window: timedelta = DEFAULT_GROUP_WINDOW
    auto_resolve: AutoResolve = AutoResolve.MONITOR
    default_severity: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    disabled: bool = False

    @classmethod
    def of(cls, row: models.Integration) -> IntegrationRef:
        settings = row.settings or {}
        kind = Kind(row.kind)
        return cls(
            id=row.id,
            name=row.name,
            kind=kind,
            service_id=row.service_id,
            service_key=row.service.key,
            signing_secret=row.signing_secret,
            group_by=tuple(settings.get("group_by", ())),
            group_window=timedelta(seconds=int(settings.get("group_window_s", DEFAULT_GROUP_WINDOW.total_seconds()))),
            # Rows made before their kind's default was chosen read it too.
            auto_resolve=AutoResolve(settings.get("auto_resolve", default_auto_resolve(kind).value)),
            default_severity=settings.get("default_severity"),
            settings=settings,
            disabled=row.disabled_at is not None,
        )


@dataclass(frozen=True)
class CreatedIntegration:
    row: models.Integration
    key: str


_SETTING_KEYS = {"group_by", "group_window_s", "auto_resolve", "default_severity", "mapping"}
# GitHub's: when repeated CI failures raise an alert (domain.ci).
_GITHUB_SETTING_KEYS = set(ci.SETTINGS)
# Sentry's: when a crash group's events are a spike (domain.crashes).
_SENTRY_SETTING_KEYS = set(crash_rules.SETTINGS)


def check_settings(kind: Kind, settings: dict[str, Any]) -> dict[str, Any]:
    unknown = set(settings) - _SETTING_KEYS - (_GITHUB_SETTING_KEYS if kind == Kind.GITHUB else set())
    unknown -= _SENTRY_SETTING_KEYS if kind == Kind.SENTRY else set()
    if unknown:
        raise ValidationFailed(f"unknown setting {sorted(unknown)[0]!r}", field="settings")
    group_by = settings.get("group_by", [])
    if not isinstance(group_by, list) or not all(isinstance(g, str) for g in group_by):
        raise ValidationFailed("group_by must be a list of label names", field="settings.group_by")
    window = settings.get("group_window_s", int(DEFAULT_GROUP_WINDOW.total_seconds()))
    if not isinstance(window, int) or isinstance(window, bool) or not 0 <= window <= 7 * 86400:
        raise ValidationFailed("group_window_s must be seconds between 0 and 604800", field="settings.group_window_s")
    try:
        AutoResolve(settings.get("auto_resolve", AutoResolve.MONITOR.value))
    except ValueError:
        raise ValidationFailed(
            "auto_resolve must be monitoring, resolve or none", field="settings.auto_resolve"
        ) from None
    if kind == Kind.GITHUB and (wrong := ci.settings_problem(settings)) is not None:
        raise ValidationFailed(wrong[1], field=f"settings.{wrong[0]}")
    if kind == Kind.SENTRY and (wrong := crash_rules.settings_problem(settings)) is not None:
        raise ValidationFailed(wrong[1], field=f"settings.{wrong[0]}")
    if kind == Kind.GENERIC:
        # Refuse a mapping that no body could satisfy now, not at the first request.
        if settings.get("mapping") is None:
            raise ValidationFailed(
                "a generic integration needs mapping.summary (a JSON path such as $.title)", field="settings.mapping"
            )
        try:
            generic.Mapping.of(settings.get("mapping"))
        except generic.MappingError as exc:
            raise ValidationFailed(
                f"{exc.message} (a JSON path such as $.title)", field=f"settings.{exc.field}"
            ) from None
    return settings


def default_auto_resolve(kind: Kind) -> AutoResolve:
    """What an incident does when all its alerts of this kind have resolved, unless the
    integration says otherwise. A monitoring alert that clears may clear for a while only, so
    its incident is watched (`monitoring`). These kinds' recovery is definitive and resolves it
    outright, as Uptime Kuma and healthchecks.io do: a crash group a person marked fixed, a check
    that passed its successes before up, a heartbeat's good ping, CI green again or a good deploy."""
    if kind in (Kind.SENTRY, Kind.CHECK, Kind.HEARTBEAT, Kind.GITHUB):
        return AutoResolve.RESOLVE
    return AutoResolve.MONITOR


def _defaults(kind: Kind, settings: dict[str, Any]) -> dict[str, Any]:
    # Written out where it is not the usual, so that what the API shows says so.
    chosen = default_auto_resolve(kind)
    return dict(settings) if chosen == AutoResolve.MONITOR else {"auto_resolve": chosen.value, **settings}


def create(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    service_key: str,
    kind: str,
    name: str = "",
    settings: dict[str, Any] | None = None,
    signing_secret: str | None = None,
    key: str | None = None,
    managed: bool = False,
    internal: bool = False,
) -> CreatedIntegration:
    """`key` keeps a key the sender already has (moving from PagerDuty: keep the routing
    keys in every tool); otherwise a new random one is made. `internal` is for the
    integrations Tocsin makes for itself (`internal`)."""
    service = directory.get_service(session, service_key)
    try:
        parsed = Kind(kind)
    except ValueError:
        parsed = None
    if parsed is None or (parsed in INTERNAL_KINDS and not internal):
        allowed = ", ".join(k.value for k in Kind if k not in INTERNAL_KINDS)
        raise ValidationFailed(f"unknown integration kind {kind!r}; expected one of {allowed}", field="kind") from None
    if key is None:
        key = secrets.token_hex(16)
    elif len(key) < 20 or not key.isascii() or not key.replace("-", "").isalnum():
        # Dashes too: Opsgenie API keys are UUIDs.
        raise ValidationFailed("an imported key needs at least 20 letters, digits or dashes", field="key")
    elif repo.integration_by_key_hash(session, hash_key(key)) is not None:
        raise Conflict("another integration has this key", field="key")
    row = models.Integration(
        service_id=service.id,
        kind=parsed.value,
        name=name or f"{service.key} {parsed.value}",
        key_hash=hash_key(key),
        key_prefix=key[:8],
        signing_secret=signing_secret,
        settings=check_settings(parsed, _defaults(parsed, settings or {})),
        managed=managed,
        created_at=now,
    )
    row.service = service
    session.add(row)
    audit.record(session, actor, now, "create", "integration", row.name, {"kind": parsed.value, "service": service.key})
    session.flush()
    return CreatedIntegration(row, key)


def internal(
    session: Session, now: datetime, service: models.Service, kind: Kind, settings: dict[str, Any] | None = None
) -> IntegrationRef:
    """The door a service's own signals of an internal kind (its heartbeats, its checks) raise
    their alerts through, made with the first of them: their alerts are routed, grouped, held
    by maintenance windows and paged like any other."""
    assert kind in INTERNAL_KINDS
    found = repo.internal_integration(session, service.id, kind.value)
    if found is None:
        who = {Kind.HEARTBEAT: "heartbeats", Kind.CHECK: "checks", Kind.DRILL: "drills"}[kind]
        found = create(
            session,
            Actor.system(who),
            now,
            service_key=service.key,
            kind=kind.value,
            name=f"{service.key} {who}",
            settings=settings,
            internal=True,
        ).row
    return IntegrationRef.of(found)


# The tool each of `urls()`'s addresses is for, as the CLI and the settings page name it.
TOOLS = {
    "native": "Tocsin events API (tocsin event, curl)",
    "pagerduty": "PagerDuty Events API v2 (any PagerDuty client or integration)",
    "pagerduty_change": "PagerDuty change events",
    "alertmanager": "Prometheus Alertmanager (webhook_configs url)",
    "opsgenie": "Opsgenie alert API",
    "grafana": "Grafana (webhook contact point URL)",
    "generic": "Any JSON webhook (generic)",
    "github": "GitHub (repository or organization webhook Payload URL)",
    "sentry": "Sentry SDKs (the DSN: Sentry.init(dsn=...))",
}


def urls(base: str, kind: str, key: str, integration_id: int | None = None) -> dict[str, str]:
    """What to paste into each tool for this integration; a Sentry project's DSN needs its id."""
    base = base.rstrip("/")
    by_tool = {
        "native": f"{base}/api/v1/events/{key}",
        "pagerduty": f"{base}/v2/enqueue (routing_key: {key})",
        "pagerduty_change": f"{base}/v2/change/enqueue (routing_key: {key})",
        "alertmanager": f"{base}/api/v1/integrations/alertmanager/{key}",
        "opsgenie": f"{base}/v2/alerts (Authorization: GenieKey {key})",
        "grafana": f"{base}/api/v1/integrations/grafana/{key}",
        "generic": f"{base}/api/v1/integrations/generic/{key}",
        "github": f"{base}/api/v1/integrations/github/{key}",
    }
    if kind == Kind.SENTRY and integration_id is not None:
        by_tool["sentry"] = sentry_dsn(base, key, integration_id)
    first = {kind: by_tool.pop(kind)} if kind in by_tool else {}
    return {**first, **by_tool}


def sentry_dsn(base: str, key: str, project_id: int) -> str:
    """`http(s)://<key>@<host>[/path]/<project id>`, what Sentry.init takes."""
    scheme, _, rest = base.rstrip("/").partition("://")
    return f"{scheme}://{key}@{rest}/{project_id}"


def find_by_key(session: Session, key: str) -> IntegrationRef | None:
    row = repo.integration_by_key_hash(session, hash_key(key))
    return None if row is None else IntegrationRef.of(row)


def get(session: Session, integration_id: int) -> models.Integration:
    row = session.get(models.Integration, integration_id)
    if row is None:
        raise NotFound(f"no integration {integration_id}", field="integration")
    return row
