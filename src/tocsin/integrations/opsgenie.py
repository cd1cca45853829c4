"""Opsgenie Alert API v2: create, acknowledge and close, for the tools that page Opsgenie.

The key travels as `Authorization: GenieKey <key>`. The `alias` is the dedup
key; an alert created without one is new every time, as in Opsgenie, which
makes up a unique alias. Acknowledge and close name the alert in the URL, by
`alias`, `id` or `tiny` (`identifierType`). Opsgenie answers every accepted
request 202 with a `requestId`; ours also names the alert, so a client that
closes "by id" with the id it was given finds it again.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from tocsin.domain.alerts import MAX_DEDUP_KEY, Action, Link, Signal
from tocsin.integrations.errors import BadPayload

IDENTIFIER_TYPES = ("id", "alias", "tiny")
# Opsgenie's names for its levels: the words Tocsin maps to its own scheme.
# P4 "low" and P5 "informational" are low urgency: recorded, not paged.
PRIORITIES = {"P1": "critical", "P2": "high", "P3": "moderate", "P4": "low", "P5": "informational"}
_ALERT_BITS = (1 << 62) - 1


class NotJson(BadPayload):
    """The body does not parse at all: Opsgenie answers 400 for that, 422 for the rest."""


class _Lenient(BaseModel):
    # Opsgenie ignores fields it does not know; clients send nulls for unset ones.
    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refuse it here, naming the field, not with a 500 later.
        values = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise ValueError("must not contain NUL characters")
        return value


class Responder(_Lenient):
    type: Literal["team", "user", "escalation", "schedule"]
    id: str | None = None
    name: str | None = None
    username: str | None = None

    @model_validator(mode="after")
    def _named(self) -> Responder:
        if not (self.id or self.name or self.username):
            raise ValueError("a responder needs an id, a name or a username")
        return self


class CreateAlert(_Lenient):
    message: str
    alias: str | None = None
    description: str | None = None
    responders: list[Responder] | None = None
    visibleTo: list[Responder] | None = None
    actions: list[str] | None = None
    tags: list[str] | None = None
    details: dict[str, str] | None = None
    entity: str | None = None
    source: str | None = None
    priority: Literal["P1", "P2", "P3", "P4", "P5"] | None = None
    user: str | None = None
    note: str | None = None

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Message can not be empty.")
        return value


class AlertAction(_Lenient):
    """The body of acknowledge and close."""

    user: str | None = None
    source: str | None = None
    note: str | None = None


def dedup_key(alias: str) -> str:
    """Aliases run to 512 characters, dedup keys to 255: a longer one is known by its hash."""
    if len(alias) <= MAX_DEDUP_KEY:
        return alias
    return "sha256:" + hashlib.sha256(alias.encode()).hexdigest()


def _validate(model: type[CreateAlert] | type[AlertAction], body: bytes) -> Any:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        bad = BadPayload.from_validation(exc)
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise NotJson(bad.errors) from None
        raise bad from None


def parse_create(body: bytes) -> Signal:
    alert: CreateAlert = _validate(CreateAlert, body)
    priority = alert.priority or "P3"
    labels = dict(alert.details or {})
    labels["priority"] = priority
    if alert.tags:
        labels["tags"] = ",".join(alert.tags)
    details: dict[str, Any] = {
        name: value
        for name, value in (
            ("alias", alert.alias),
            ("description", alert.description),
            ("entity", alert.entity),
            ("source", alert.source),
            ("user", alert.user),
            ("note", alert.note),
            ("tags", alert.tags),
            ("actions", alert.actions),
            ("details", alert.details),
            ("responders", [r.model_dump(exclude_none=True) for r in alert.responders or []]),
            ("visibleTo", [r.model_dump(exclude_none=True) for r in alert.visibleTo or []]),
        )
        if value
    }
    source = alert.source or ""
    links = (Link(source, "Source"),) if source.startswith(("http://", "https://")) else ()
    return Signal(
        action=Action.TRIGGER,
        # Opsgenie makes up a unique alias when there is none: a new alert each time.
        dedup_key=dedup_key(alert.alias) if alert.alias else secrets.token_hex(16),
        summary=alert.message.strip()[:1024],
        source=alert.entity or source,
        severity=PRIORITIES[priority],
        labels=labels,
        links=links,
        details=details,
        raw=body,
    )


def parse_action(body: bytes, action: Action, key: str) -> Signal:
    """Acknowledge or close the alert whose dedup key is `key`; an empty body is `{}`."""
    taken: AlertAction = _validate(AlertAction, body if body.strip() else b"{}")
    details = taken.model_dump(exclude_none=True)
    return Signal(action=action, dedup_key=key, source=taken.source or "", details=details, raw=body)


def request_id(alert_id: int | None) -> str:
    """A new request id (a UUID). For an alert it is a version 8 UUID carrying the
    alert's number in its last 62 bits: Opsgenie clients learn an alert's id by asking
    about the request, and with no request store this is how we can answer "by id"."""
    if alert_id is None or not 0 < alert_id <= _ALERT_BITS:
        return str(uuid.uuid4())
    value = secrets.randbits(48) << 80 | 0x8 << 76 | secrets.randbits(12) << 64 | 0b10 << 62 | alert_id
    return str(uuid.UUID(int=value))


def alert_number(identifier: str) -> int | None:
    """The alert an `id` or `tiny` identifier names: its Tocsin number, or a request id
    from `request_id`. None when it can name no alert of ours."""
    text = identifier.strip()
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text) or None
    try:
        value = uuid.UUID(text)
    except ValueError:
        return None
    if value.version != 8:
        return None
    return value.int & _ALERT_BITS or None
