"""Tocsin's own event format: `POST /api/v1/events`, one event or a list of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from tocsin.domain.alerts import MAX_DEDUP_KEY, Action, Link, Signal, derived_dedup_key
from tocsin.integrations.errors import BadPayload, reject_nul


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    href: str = Field(min_length=1, max_length=2048)
    text: str = Field(default="", max_length=1024)


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=MAX_DEDUP_KEY)
    summary: str = Field(default="", max_length=1024)
    source: str = Field(default="", max_length=255)
    severity: str = Field(default="", max_length=50)
    labels: dict[str, str] = Field(default_factory=dict)
    links: list[LinkIn] = Field(default_factory=list, max_length=50)
    details: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = None

    @model_validator(mode="after")
    def _required_by_action(self) -> Event:
        if self.action == "trigger" and not self.summary.strip():
            raise ValueError("a trigger needs a summary")
        if self.action != "trigger" and not self.dedup_key:
            raise ValueError(f"{self.action} needs the dedup_key of the alert")
        return self


_ONE = TypeAdapter(Event)
_MANY = TypeAdapter(list[Event])
MAX_BATCH = 1000


def parse(body: bytes) -> tuple[list[Signal], bool]:
    """Signals from the body, and whether it was a batch (a JSON list)."""
    reject_nul(body)
    batch = body.lstrip()[:1] == b"["
    try:
        events = _MANY.validate_json(body) if batch else [_ONE.validate_json(body)]
    except ValidationError as exc:
        raise BadPayload.from_validation(exc) from None
    if len(events) > MAX_BATCH:
        raise BadPayload([("", f"a batch holds at most {MAX_BATCH} events")])
    if batch and not events:
        raise BadPayload([("", "the batch is empty")])
    return [_signal(event, body if not batch else b"") for event in events], batch


def _signal(event: Event, raw: bytes) -> Signal:
    return Signal(
        action=Action(event.action),
        dedup_key=event.dedup_key or derived_dedup_key(event.labels, event.summary),
        summary=event.summary,
        source=event.source,
        severity=event.severity,
        labels=event.labels,
        links=tuple(Link(link.href, link.text) for link in event.links),
        details=event.details,
        occurred_at=event.timestamp,
        raw=raw,
    )
