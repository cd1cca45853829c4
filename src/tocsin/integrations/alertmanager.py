"""Prometheus Alertmanager webhook, payload version 4.

One request carries one alert group. Each alert's `fingerprint` (a hash of its
label set, stable from firing to resolved) is its dedup key. Firing alerts
carry Go's zero time as `endsAt`, read as "no end". Unknown keys are ignored:
newer Alertmanagers add some.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tocsin.domain.alerts import Action, Link, Signal, derived_dedup_key
from tocsin.integrations.errors import BadPayload, reject_nul


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AlertIn(_Lenient):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: str | None = None
    generatorURL: str = ""
    fingerprint: str = ""


class Webhook(_Lenient):
    version: str
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[AlertIn]
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    groupKey: str = ""
    truncatedAlerts: int = 0


def ends_at(value: str | None) -> datetime | None:
    """Go's zero time (`0001-01-01T00:00:00Z`) means the alert has not ended."""
    if not value or value.startswith("0001-01-01"):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse(body: bytes) -> tuple[Webhook, list[Signal]]:
    reject_nul(body)
    try:
        webhook = Webhook.model_validate_json(body)
    except ValidationError as exc:
        raise BadPayload.from_validation(exc) from None
    if webhook.version != "4":
        raise BadPayload([("version", f"payload version {webhook.version!r} is not supported; expected '4'")])
    signals = []
    for index, alert in enumerate(webhook.alerts):
        try:
            ended = ends_at(alert.endsAt)
        except ValueError:
            raise BadPayload([(f"alerts[{index}].endsAt", f"{alert.endsAt!r} is not an RFC 3339 time")]) from None
        summary = (
            alert.annotations.get("summary")
            or alert.annotations.get("description")
            or alert.labels.get("alertname", "")
            or "Alertmanager alert"
        )
        links = [Link(alert.generatorURL, "Source")] if alert.generatorURL else []
        if runbook := alert.annotations.get("runbook_url"):
            links.append(Link(runbook, "Runbook"))
        details: dict[str, object] = {"annotations": alert.annotations}
        if webhook.groupKey:
            details["group_key"] = webhook.groupKey
        signals.append(
            labelled_signal(
                firing=alert.status == "firing",
                fingerprint=alert.fingerprint,
                labels=alert.labels,
                summary=summary,
                receiver=webhook.receiver,
                links=links,
                details=details,
                occurred_at=alert.startsAt if alert.status == "firing" else ended,
                raw=alert.model_dump_json().encode(),
            )
        )
    return webhook, signals


def labelled_signal(
    *,
    firing: bool,
    fingerprint: str,
    labels: dict[str, str],
    summary: str,
    receiver: str,
    links: list[Link],
    details: dict[str, object],
    occurred_at: datetime | None,
    raw: bytes,
) -> Signal:
    """Alertmanager and Grafana (whose webhook copies Alertmanager's) describe an alert
    alike: a label set, its fingerprint, firing or resolved."""
    return Signal(
        action=Action.TRIGGER if firing else Action.RESOLVE,
        dedup_key=fingerprint or derived_dedup_key(labels, ""),
        summary=summary[:1024],
        source=labels.get("instance") or labels.get("job") or receiver,
        severity=labels.get("severity", ""),
        labels=labels,
        links=tuple(links),
        details=details,
        occurred_at=occurred_at,
        raw=raw,
    )
