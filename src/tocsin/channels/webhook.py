"""The generic webhook: a documented JSON body, signed with the channel's secret.

"The channel's secret" is the `signing_secret` of the team channel or of the
user's contact method the notification goes to; docs/webhooks.md is the
receivers' copy of this contract.

Request
-------

    POST <the channel's URL>
    Content-Type: application/json
    User-Agent: Tocsin/<version>
    X-Tocsin-Delivery: <delivery id>        the same on every retry of one notification: deduplicate on it
    X-Tocsin-Timestamp: <unix seconds>      when this attempt was made; equal to the body's "sent_at"
    X-Tocsin-Signature: sha256=<hex>        HMAC-SHA256 of the raw body bytes, keyed with the channel's
                                            secret (UTF-8); sent only when the channel has a secret

Body (UTF-8 JSON; keys may be added in later versions, so ignore unknown keys)
-------------------------------------------------------------------------------

    {
      "version": 1,
      "delivery": "ntf_01J…",             string, as X-Tocsin-Delivery
      "sent_at": 1795424400,              integer, unix seconds, as X-Tocsin-Timestamp
      "kind": "page",                     "page" | "acknowledged" | "incident_update" | "resolved" |
                                          "handoff" | "reminder" | "test" | "verify" | "post"
      "headline": "[P1] INC-2026-11-23-001 Checkout is down",
      "title": "Checkout is down",
      "text": "5xx ratio 12% over 5m",    string, may be empty
      "severity": "P1",                   string or null, a level of the configured scheme
      "severity_rank": 1,                 integer or null, 0 is the most severe
      "incident": "INC-2026-11-23-001",   string or null
      "url": "https://…",                 string or null, the incident's page
      "ack_url": "https://…",             string or null, a signed single-use acknowledge link
      "mention": "U024BE7LH",             string or null
      "occurred_at": "2026-11-23T09:00:00+00:00",   string (ISO 8601) or null
      "fields": [{"name": "Service", "value": "checkout"}, …]   ordered
    }

Verifying a delivery (the timestamp is inside the signed body, so a receiver
that checks "sent_at" against its clock also rejects replays)::

    expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, request.headers["X-Tocsin-Signature"])
    fresh = abs(time.time() - int(request.headers["X-Tocsin-Timestamp"])) < 300

Answers
-------

Any 2xx is success. 429 (honouring Retry-After), 408, 425 and 5xx are
retried with backoff; a timeout or refused connection too. Any other status
(a redirect, 400, 401, 403, 404, 410 …) fails the notification at once as
a misconfigured channel.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import httpx

from tocsin.channels import posting
from tocsin.channels.message import Message
from tocsin.channels.result import DeliveryResult

VERSION = 1
SIGNATURE_HEADER = "X-Tocsin-Signature"
TIMESTAMP_HEADER = "X-Tocsin-Timestamp"
DELIVERY_HEADER = "X-Tocsin-Delivery"


def send(
    address: str,
    message: Message,
    *,
    secret: str | None = None,
    client: httpx.Client | None = None,
    timeout: float = posting.DEFAULT_TIMEOUT,
    now: datetime | None = None,
) -> DeliveryResult:
    return posting.send(request(address, message, secret=secret, now=now), client=client, timeout=timeout)


def request(address: str, message: Message, *, secret: str | None = None, now: datetime | None = None) -> posting.Post:
    sent_at = int((now or datetime.now(UTC)).timestamp())
    body = posting.encode(payload(message, sent_at))
    return posting.Post(address, body, headers(message, body, sent_at, secret))


def payload(message: Message, sent_at: int) -> dict[str, Any]:
    return {
        "version": VERSION,
        "delivery": message.idempotency_key,
        "sent_at": sent_at,
        "kind": message.kind.value,
        "headline": message.headline,
        "title": message.title,
        "text": message.text,
        "severity": message.severity,
        "severity_rank": message.severity_rank,
        "incident": message.incident,
        "url": message.url,
        "ack_url": message.ack_url,
        "mention": message.mention,
        "occurred_at": message.at.isoformat() if message.at is not None else None,
        "fields": [{"name": name, "value": value} for name, value in message.fields],
    }


def headers(message: Message, body: bytes, sent_at: int, secret: str | None) -> dict[str, str]:
    out = {DELIVERY_HEADER: message.idempotency_key, TIMESTAMP_HEADER: str(sent_at)}
    if secret:
        out[SIGNATURE_HEADER] = signature(body, secret)
    return out


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
