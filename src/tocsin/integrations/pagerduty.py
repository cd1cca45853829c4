"""PagerDuty Events API v2: `POST /v2/enqueue` and `POST /v2/change/enqueue`.

The integration key travels in the body as `routing_key`. Answers must keep
PagerDuty's exact shapes: the official client refuses a 202 without `dedup_key`,
and Alertmanager logs `status`/`message`/`errors` from a 400.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tocsin.domain.alerts import MAX_DEDUP_KEY, Action, Link, Signal
from tocsin.integrations.errors import BadPayload, reject_nul


class _Lenient(BaseModel):
    # PagerDuty ignores fields it does not know; so must we, or a newer client breaks.
    model_config = ConfigDict(extra="ignore")


class Payload(_Lenient):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: str | None = None  # ISO 8601, often `+0000` without a colon: parsed leniently
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class LinkIn(_Lenient):
    href: str
    text: str = ""


class ImageIn(_Lenient):
    src: str
    href: str | None = None
    alt: str | None = None


class Event(_Lenient):
    routing_key: str = Field(min_length=1)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=MAX_DEDUP_KEY)
    payload: Payload | None = None
    links: list[LinkIn] = Field(default_factory=list)
    images: list[ImageIn] = Field(default_factory=list)
    client: str | None = None
    client_url: str | None = None

    @model_validator(mode="after")
    def _required_by_action(self) -> Event:
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("'payload' is missing or blank")
        if self.event_action != "trigger" and not self.dedup_key:
            raise ValueError("'dedup_key' is missing or blank")
        return self


class ChangePayload(_Lenient):
    summary: str = Field(min_length=1, max_length=1024)
    source: str | None = None
    timestamp: str | None = None
    custom_details: Any = None


class ChangeEvent(_Lenient):
    routing_key: str = Field(min_length=1)
    payload: ChangePayload
    links: list[LinkIn] = Field(default_factory=list)


def parse_timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def routing_key(body: bytes) -> str | None:
    """The key alone, to authenticate before the full validation."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    key = data.get("routing_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


def parse(body: bytes) -> tuple[str, Signal]:
    reject_nul(body)
    try:
        event = Event.model_validate_json(body)
    except ValidationError as exc:
        raise BadPayload.from_validation(exc) from None
    labels: dict[str, str] = {}
    details: dict[str, Any] = {}
    summary = source = severity = ""
    occurred_at = None
    if event.payload is not None:
        payload = event.payload
        summary, source, severity = payload.summary, payload.source, payload.severity
        occurred_at = parse_timestamp(payload.timestamp)
        labels = {
            name: value
            for name, value in (
                ("component", payload.component),
                ("group", payload.group),
                ("class", payload.class_),
                ("source", payload.source),
                ("severity", payload.severity),
            )
            if value
        }
        if isinstance(payload.custom_details, dict):
            details = payload.custom_details
        elif payload.custom_details is not None:
            details = {"details": payload.custom_details}
    links = [Link(link.href, link.text) for link in event.links]
    if event.client_url:
        links.append(Link(event.client_url, event.client or ""))
    # PagerDuty makes up a key when a trigger has none, and hands it back.
    dedup_key = event.dedup_key or secrets.token_hex(16)
    return event.routing_key, Signal(
        action=Action(event.event_action),
        dedup_key=dedup_key,
        summary=summary,
        source=source,
        severity=severity,
        labels=labels,
        links=tuple(links),
        details=details,
        occurred_at=occurred_at,
        # Kept for people to read, so without the routing key: it is the integration's secret.
        raw=event.model_dump_json(exclude={"routing_key"}, by_alias=True, exclude_none=True).encode(),
    )


def parse_change(body: bytes) -> ChangeEvent:
    reject_nul(body)
    try:
        return ChangeEvent.model_validate_json(body)
    except ValidationError as exc:
        raise BadPayload.from_validation(exc) from None
