"""Managing ingestion: integrations (with the URLs to paste), alerts, routing rules, maintenance windows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from tocsin.api.deps import CurrentClock, DbSession, Reader, Writer
from tocsin.api.schemas import Body, Page
from tocsin.errors import NotFound, ValidationFailed
from tocsin.services import directory, incidents, integrations, routing
from tocsin.storage import models
from tocsin.storage.repositories import alerts as repo

router = APIRouter(prefix="/api/v1", tags=["alerts"])
IdPath = Annotated[int, Path(ge=1, le=2**62)]


# ---- integrations ----------------------------------------------------------


class CreateIntegration(Body):
    service: str = Field(min_length=1, max_length=100)
    kind: str = Field(description="native, pagerduty, alertmanager, opsgenie, grafana, generic, github or sentry")
    name: str = Field(default="", max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict)
    signing_secret: str | None = Field(default=None, max_length=200, description="Grafana HMAC secret")
    key: str | None = Field(
        default=None, min_length=20, max_length=64, description="Keep an existing key (e.g. a PagerDuty routing key)"
    )


class IntegrationOut(BaseModel):
    id: int
    service: str
    kind: str
    name: str
    key_prefix: str
    settings: dict[str, Any]
    signed: bool
    disabled: bool

    @classmethod
    def of(cls, row: models.Integration) -> IntegrationOut:
        return cls(
            id=row.id, service=row.service.key, kind=row.kind, name=row.name, key_prefix=row.key_prefix,
            settings=row.settings, signed=row.signing_secret is not None, disabled=row.disabled_at is not None,
        )  # fmt: skip


class CreatedIntegrationOut(IntegrationOut):
    key: str = Field(description="The integration key; shown once")
    urls: dict[str, str] = Field(description="Where to point each tool")


@router.post("/integrations", status_code=201, response_model=CreatedIntegrationOut)
def create_integration(
    body: CreateIntegration, request: Request, actor: Writer, session: DbSession, clock: CurrentClock
) -> CreatedIntegrationOut:
    created = integrations.create(
        session, actor, clock.now(), service_key=body.service, kind=body.kind, name=body.name,
        settings=body.settings, signing_secret=body.signing_secret, key=body.key,
    )  # fmt: skip
    session.commit()
    out = IntegrationOut.of(created.row)
    base = str(request.base_url)
    return CreatedIntegrationOut(
        **out.model_dump(), key=created.key, urls=integrations.urls(base, created.row.kind, created.key, created.row.id)
    )


@router.get("/integrations", response_model=list[IntegrationOut])
def list_integrations(_actor: Reader, session: DbSession, service: str | None = None) -> list[IntegrationOut]:
    service_id = directory.get_service(session, service).id if service else None
    return [IntegrationOut.of(row) for row in repo.list_integrations(session, service_id)]


# ---- alerts ----------------------------------------------------------------


class AlertOut(BaseModel):
    id: int
    service: str
    integration: str
    dedup_key: str
    status: str
    severity: str | None
    sender_severity: str
    urgency: str
    summary: str
    source: str
    labels: dict[str, Any]
    details: dict[str, Any]
    links: list[Any]
    count: int
    first_seen: datetime
    last_seen: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    incident: str | None
    held_by: str | None

    @classmethod
    def of(cls, alert: models.Alert, incident: str | None) -> AlertOut:
        return cls(
            id=alert.id, service=alert.service.key, integration=alert.integration.name, dedup_key=alert.dedup_key,
            status=alert.status, severity=alert.severity, sender_severity=alert.sender_severity,
            urgency=alert.urgency, summary=alert.summary, source=alert.source, labels=alert.labels,
            details=alert.details, links=alert.links, count=alert.count, first_seen=alert.first_seen,
            last_seen=alert.last_seen, acknowledged_at=alert.acknowledged_at, resolved_at=alert.resolved_at,
            incident=incident, held_by=alert.suppressed_by,
        )  # fmt: skip


class AlertDetailOut(AlertOut):
    raw: str


def _human_id(session: DbSession, incident_id: int | None) -> str | None:
    if incident_id is None:
        return None
    incident = session.get(models.Incident, incident_id)
    return incident.human_id if incident else None


@router.get("/alerts", response_model=Page[AlertOut])
def list_alerts(
    _actor: Reader,
    session: DbSession,
    status: Annotated[str | None, Query(pattern="^(firing|resolved)$")] = None,
    service: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Page[AlertOut]:
    service_id = directory.get_service(session, service).id if service else None
    rows, total = repo.list_alerts(session, status=status, service_id=service_id, limit=limit, offset=offset)
    items = [AlertOut.of(row, _human_id(session, row.incident_id)) for row in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/alerts/{alert_id}", response_model=AlertDetailOut)
def show_alert(alert_id: IdPath, _actor: Reader, session: DbSession) -> AlertDetailOut:
    alert = repo.alert_by_id(session, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}", field="alert")
    return AlertDetailOut(**AlertOut.of(alert, _human_id(session, alert.incident_id)).model_dump(), raw=alert.raw)


@router.get("/incidents/{ref}/alerts", response_model=list[AlertOut])
def incident_alerts(ref: str, _actor: Reader, session: DbSession) -> list[AlertOut]:
    incident = incidents.get(session, ref)
    return [AlertOut.of(a, incident.human_id) for a in repo.alerts_for_incident(session, incident.id)]


# ---- routing rules -----------------------------------------------------------


class CreateRule(Body):
    matchers: list[str] = Field(default_factory=list, max_length=50, description='e.g. severity="critical"')
    severity: str | None = None
    route_to: str | None = Field(default=None, description="Key of the service to route to")
    drop: bool = False
    urgency: str | None = Field(default=None, description="high or low (low: record, don't page)")
    continue_: bool = Field(default=False, alias="continue")
    position: int | None = Field(default=None, ge=0, le=10_000)


class RuleOut(BaseModel):
    id: int
    position: int
    matchers: list[str]
    severity: str | None
    route_to: str | None
    drop: bool
    urgency: str | None
    continue_: bool = Field(serialization_alias="continue")

    @classmethod
    def of(cls, rule: models.RoutingRule) -> RuleOut:
        return cls(
            id=rule.id, position=rule.position, matchers=rule.matchers, severity=rule.severity,
            route_to=rule.route_to.key if rule.route_to else None, drop=rule.drop, urgency=rule.urgency,
            continue_=rule.continue_,
        )  # fmt: skip


@router.post("/services/{key}/rules", status_code=201, response_model=RuleOut, response_model_by_alias=True)
def add_rule(key: str, body: CreateRule, actor: Writer, session: DbSession, clock: CurrentClock) -> RuleOut:
    rule = routing.add_rule(
        session, actor, clock.now(), service_key=key, matchers=body.matchers, severity=body.severity,
        route_to=body.route_to, drop=body.drop, urgency=body.urgency, continue_=body.continue_,
        position=body.position,
    )  # fmt: skip
    session.commit()
    return RuleOut.of(rule)


@router.get("/services/{key}/rules", response_model=list[RuleOut], response_model_by_alias=True)
def list_rules(key: str, _actor: Reader, session: DbSession) -> list[RuleOut]:
    return [RuleOut.of(rule) for rule in routing.rules(session, key)]


@router.delete("/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: IdPath, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    routing.delete_rule(session, actor, clock.now(), rule_id)
    session.commit()
    return Response(status_code=204)


# ---- maintenance windows -------------------------------------------------------


class CreateWindow(Body):
    name: str = Field(min_length=1, max_length=200)
    starts_at: datetime
    ends_at: datetime
    service: str | None = None
    matchers: list[str] = Field(default_factory=list, max_length=50)


class WindowOut(BaseModel):
    id: int
    name: str
    service: str | None
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str

    @classmethod
    def of(cls, window: models.MaintenanceWindow) -> WindowOut:
        return cls(
            id=window.id, name=window.name, service=window.service.key if window.service else None,
            matchers=window.matchers, starts_at=window.starts_at, ends_at=window.ends_at,
            created_by=window.created_by,
        )  # fmt: skip


@router.post("/maintenance-windows", status_code=201, response_model=WindowOut)
def add_window(body: CreateWindow, actor: Writer, session: DbSession, clock: CurrentClock) -> WindowOut:
    if body.starts_at.tzinfo is None or body.ends_at.tzinfo is None:
        raise ValidationFailed("times need a time zone offset, e.g. 2026-11-23T22:00:00Z", field="starts_at")
    window = routing.add_window(
        session, actor, clock.now(), name=body.name, starts_at=body.starts_at, ends_at=body.ends_at,
        service_key=body.service, matchers=body.matchers,
    )  # fmt: skip
    session.commit()
    return WindowOut.of(window)


@router.get("/maintenance-windows", response_model=list[WindowOut])
def list_windows(
    _actor: Reader, session: DbSession, clock: CurrentClock, include_past: bool = False
) -> list[WindowOut]:
    rows = repo.list_windows(session, current_at=None if include_past else clock.now())
    return [WindowOut.of(row) for row in rows]


@router.post("/maintenance-windows/{window_id}/end", response_model=WindowOut)
def end_window(window_id: IdPath, actor: Writer, session: DbSession, clock: CurrentClock) -> WindowOut:
    window = routing.end_window(session, actor, clock.now(), window_id)
    session.commit()
    return WindowOut.of(window)
