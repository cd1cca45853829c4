"""Grafana unified alerting webhook, payload version "1".

Alertmanager's template data plus Grafana's own fields (`orgId`, `title`,
`state`, and per alert `silenceURL`, `dashboardURL`, `panelURL`, `imageURL`,
`values`). Each alert's `fingerprint` is its dedup key, stable from firing to
resolved. Unknown keys are ignored: every Grafana release adds some.

With a signing secret, Grafana signs each request: lowercase hex of
HMAC-SHA256(secret, body), with no `sha256=` prefix. When a timestamp header is
configured the signed message is `"<unix seconds>:" + body` instead, and a
stale timestamp is a replay.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tocsin.domain.alerts import Link, Signal
from tocsin.integrations.alertmanager import labelled_signal
from tocsin.integrations.errors import BadPayload

# Grafana's code signs with the first by default; its contact-point form suggests the second.
SIGNATURE_HEADERS = ("X-Grafana-Alert-Signature", "X-Grafana-Alerting-Signature")
# Grafana sends a timestamp only under a configured name; these are the ones its docs and users pick.
TIMESTAMP_HEADERS = ("X-Grafana-Alerting-Timestamp", "X-Grafana-Alert-Timestamp")
MAX_SKEW = timedelta(minutes=5)
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class BadSignature(Exception):
    """The request does not carry a valid signature for the integration's secret."""


def verify(secret: str, body: bytes, signature: str | None, timestamp: str | None, now: datetime) -> None:
    if not signature:
        raise BadSignature(f"the request is not signed; expected {' or '.join(SIGNATURE_HEADERS)}")
    message = body
    if timestamp is not None:
        if not _UNIX_SECONDS.fullmatch(timestamp.strip()):
            raise BadSignature(f"the timestamp {timestamp[:20]!r} is not Unix seconds")
        if abs(now.timestamp() - int(timestamp)) > MAX_SKEW.total_seconds():
            raise BadSignature(
                "the signature's timestamp is more than 5 minutes from now: a replay, or a clock that is off"
            )
        message = timestamp.strip().encode() + b":" + body
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise BadSignature("the signature does not match the body and the integration's signing secret")


class _Lenient(BaseModel):
    # NaN is no JSON a database column accepts; unknown keys are newer Grafanas.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refuse it here, naming the field, not with a 500 later.
        values = value.values() if isinstance(value, dict) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise ValueError("must not contain NUL characters")
        return value


class AlertIn(_Lenient):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(default="", max_length=255)
    silenceURL: str = ""
    dashboardURL: str = ""
    panelURL: str = ""
    imageURL: str = ""
    values: dict[str, float | None] | None = None  # null when the rule has no numeric results
    valueString: str = ""

    @field_validator("endsAt", mode="before")
    @classmethod
    def _go_zero_time(cls, value: Any) -> Any:
        # Firing alerts carry Go's zero time, 0001-01-01T00:00:00Z: no end yet.
        return None if isinstance(value, str) and value.startswith("0001-01-01") else value


class Webhook(_Lenient):
    version: str
    status: Literal["firing", "resolved"]
    receiver: str = ""
    orgId: int | None = None
    alerts: list[AlertIn]
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    groupKey: str = ""
    truncatedAlerts: int = 0
    title: str = ""
    state: str = ""
    message: str = ""


def parse(body: bytes) -> tuple[Webhook, list[Signal]]:
    try:
        webhook = Webhook.model_validate_json(body)
    except ValidationError as exc:
        raise BadPayload.from_validation(exc) from None
    if webhook.version != "1":
        raise BadPayload([("version", f"payload version {webhook.version!r} is not Grafana's; expected '1'")])
    return webhook, [_signal(webhook, alert) for alert in webhook.alerts]


def _signal(webhook: Webhook, alert: AlertIn) -> Signal:
    summary = (
        alert.annotations.get("summary")
        or alert.annotations.get("description")
        or alert.labels.get("alertname")
        or webhook.title
        or "Grafana alert"
    )
    links = [
        Link(href, text)
        for href, text in (
            (alert.generatorURL, "Alert rule"),
            (alert.dashboardURL, "Dashboard"),
            (alert.panelURL, "Panel"),
            (alert.annotations.get("runbook_url", ""), "Runbook"),
            (alert.silenceURL, "Silence"),
            (alert.imageURL, "Image"),
        )
        if href
    ]
    details: dict[str, object] = {"annotations": alert.annotations}
    if alert.values:
        details["values"] = alert.values
    if alert.valueString:
        details["value_string"] = alert.valueString
    if webhook.groupKey:
        details["group_key"] = webhook.groupKey
    if webhook.orgId is not None:
        details["org_id"] = webhook.orgId
    return labelled_signal(
        firing=alert.status == "firing",
        fingerprint=alert.fingerprint,
        labels=alert.labels,
        summary=summary,
        receiver=webhook.receiver,
        links=links,
        details=details,
        occurred_at=alert.startsAt if alert.status == "firing" else alert.endsAt,
        raw=alert.model_dump_json().encode(),
    )
