"""Routing rules of a service and maintenance windows: how alerts are steered and held."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.domain.alerts import Urgency
from tocsin.domain.matchers import MatcherError, parse_matchers
from tocsin.errors import NotFound, ValidationFailed
from tocsin.services import audit, directory, severities
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import alerts as repo


def _check_matchers(matchers: Sequence[str], field: str) -> list[str]:
    try:
        parse_matchers(list(matchers))
    except MatcherError as exc:
        raise ValidationFailed(str(exc), field=field) from None
    return list(matchers)


def add_rule(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    service_key: str,
    matchers: Sequence[str] = (),
    severity: str | None = None,
    route_to: str | None = None,
    drop: bool = False,
    urgency: str | None = None,
    continue_: bool = False,
    position: int | None = None,
    managed: bool = False,
) -> models.RoutingRule:
    service = directory.get_service(session, service_key)
    if severity is not None:
        severities.require_level(session, severity)
    target = None
    if route_to is not None:
        target = directory.get_service(session, route_to)
        if target.id == service.id:
            raise ValidationFailed("a rule cannot route a service to itself", field="route_to")
    if urgency is not None and urgency not in {u.value for u in Urgency}:
        raise ValidationFailed("urgency must be high or low", field="urgency")
    if drop and (severity or route_to or urgency):
        raise ValidationFailed("a drop rule sets nothing else", field="drop")
    existing = repo.rules_for(session, service.id)
    rule = models.RoutingRule(
        service_id=service.id,
        position=len(existing) if position is None else position,
        matchers=_check_matchers(matchers, "matchers"),
        severity=severity,
        route_to=target,
        drop=drop,
        urgency=urgency,
        continue_=continue_,
        managed=managed,
    )
    session.add(rule)
    audit.record(session, actor, now, "create", "routing_rule", service.key, {"matchers": list(matchers)})
    session.flush()
    return rule


def rules(session: Session, service_key: str) -> Sequence[models.RoutingRule]:
    return repo.rules_for(session, directory.get_service(session, service_key).id)


def delete_rule(session: Session, actor: Actor, now: datetime, rule_id: int) -> None:
    rule = session.get(models.RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"no routing rule {rule_id}", field="rule")
    session.delete(rule)
    audit.record(session, actor, now, "delete", "routing_rule", str(rule_id))
    session.flush()


def add_window(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    service_key: str | None = None,
    matchers: Sequence[str] = (),
    managed: bool = False,
) -> models.MaintenanceWindow:
    if not name.strip():
        raise ValidationFailed("a maintenance window needs a name", field="name")
    if ends_at <= starts_at:
        raise ValidationFailed("ends_at must be after starts_at", field="ends_at")
    service = directory.get_service(session, service_key) if service_key else None
    window = models.MaintenanceWindow(
        name=name.strip(),
        service=service,
        matchers=_check_matchers(matchers, "matchers"),
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=now,
        created_by=actor.name,
        managed=managed,
    )
    session.add(window)
    audit.record(session, actor, now, "create", "maintenance_window", window.name)
    session.flush()
    return window


def end_window(session: Session, actor: Actor, now: datetime, window_id: int) -> models.MaintenanceWindow:
    """End a window now (kept, for the record of what it held)."""
    window = session.get(models.MaintenanceWindow, window_id)
    if window is None:
        raise NotFound(f"no maintenance window {window_id}", field="window")
    if window.ends_at > now:
        window.ends_at = max(now, window.starts_at)
    audit.record(session, actor, now, "end", "maintenance_window", window.name)
    session.flush()
    return window
