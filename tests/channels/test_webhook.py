"""The generic webhook: the documented body and headers, and a signature a receiver can verify."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tests.channels.samples import NOW, TOKEN, page, webhook_url
from tests.support.fake_http import FakeHTTPServer
from tocsin.channels import webhook
from tocsin.channels.message import MessageKind
from tocsin.channels.result import Outcome

SECRET = "whsec-correct-horse-battery-staple"


def test_the_body_is_the_documented_json(fake_http: FakeHTTPServer) -> None:
    result = webhook.send(webhook_url(fake_http, "/hooks"), page(), secret=SECRET, now=NOW)
    assert result.delivered
    (request,) = fake_http.requests
    assert request.json() == {
        "version": 1,
        "delivery": "ntf-42-1",
        "sent_at": int(NOW.timestamp()),
        "kind": "page",
        "headline": "[P1] INC-2026-11-23-001 Checkout is down",
        "title": "Checkout is down",
        "text": "5xx ratio 12% over 5m",
        "severity": "P1",
        "severity_rank": 1,
        "incident": "INC-2026-11-23-001",
        "url": "https://tocsin.example.com/incidents/INC-2026-11-23-001",
        "ack_url": "https://tocsin.example.com/ack/eyJhbGciOi.sig",
        "mention": "80351110224678912",
        "occurred_at": "2026-11-23T09:00:00+00:00",
        "fields": [{"name": "Service", "value": "checkout"}, {"name": "Status", "value": "triggered"}],
    }


def test_a_receiver_verifies_the_signature_with_the_documented_recipe(fake_http: FakeHTTPServer) -> None:
    webhook.send(webhook_url(fake_http, "/hooks"), page(), secret=SECRET, now=NOW)
    (request,) = fake_http.requests
    # Exactly what the module docstring tells receivers to do, on the raw bytes received.
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    signature = request.header("X-Tocsin-Signature")
    assert signature is not None
    assert hmac.compare_digest(expected, signature)
    assert request.header("X-Tocsin-Timestamp") == str(int(NOW.timestamp())) == str(request.json()["sent_at"])
    assert request.header("X-Tocsin-Delivery") == "ntf-42-1"
    assert request.header("Content-Type") == "application/json"


def test_a_wrong_secret_does_not_verify(fake_http: FakeHTTPServer) -> None:
    webhook.send(webhook_url(fake_http, "/hooks"), page(), secret=SECRET, now=NOW)
    (request,) = fake_http.requests
    forged = "sha256=" + hmac.new(b"another secret", request.body, hashlib.sha256).hexdigest()
    assert request.header("X-Tocsin-Signature") != forged


def test_every_retry_carries_the_same_delivery_id_and_a_fresh_signed_timestamp(fake_http: FakeHTTPServer) -> None:
    fake_http.respond(503)
    url = webhook_url(fake_http, "/hooks")
    first = webhook.send(url, page(), secret=SECRET, now=NOW)
    later = NOW.replace(minute=1)
    second = webhook.send(url, page(), secret=SECRET, now=later)
    assert (first.outcome, second.outcome) == (Outcome.RETRY, Outcome.OK)
    one, two = fake_http.requests
    assert one.header("X-Tocsin-Delivery") == two.header("X-Tocsin-Delivery") == "ntf-42-1"
    assert two.json()["sent_at"] - one.json()["sent_at"] == 60
    assert one.header("X-Tocsin-Signature") != two.header("X-Tocsin-Signature")


def test_without_a_secret_nothing_is_signed(fake_http: FakeHTTPServer) -> None:
    webhook.send(webhook_url(fake_http, "/hooks"), page(kind=MessageKind.TEST, mention=None), now=NOW)
    (request,) = fake_http.requests
    assert request.header("X-Tocsin-Signature") is None
    assert request.header("X-Tocsin-Delivery") == "ntf-42-1"
    assert request.json()["kind"] == "test"


def test_non_ascii_text_travels_as_utf8_and_the_signature_covers_those_bytes(fake_http: FakeHTTPServer) -> None:
    webhook.send(webhook_url(fake_http, "/hooks"), page(text="naïve — ünïcode"), secret=SECRET, now=NOW)
    (request,) = fake_http.requests
    assert "naïve — ünïcode".encode() in request.body
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.header("X-Tocsin-Signature") == expected


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "retry_after"),
    [
        (200, None, Outcome.OK, None),
        (202, None, Outcome.OK, None),
        (429, {"Retry-After": "7"}, Outcome.RETRY, 7.0),
        (500, None, Outcome.RETRY, None),
        (404, None, Outcome.PERMANENT, None),
        (401, None, Outcome.PERMANENT, None),
    ],
)
def test_webhook_answers(
    fake_http: FakeHTTPServer,
    status: int,
    headers: dict[str, str] | None,
    outcome: Outcome,
    retry_after: float | None,
) -> None:
    fake_http.respond(status, f"echo of {TOKEN}", headers)
    url = webhook_url(fake_http, "/hooks")
    result = webhook.send(url, page(), secret=SECRET, now=NOW)
    assert (result.outcome, result.status, result.retry_after) == (outcome, status, retry_after)
    assert TOKEN not in (result.error or "")
    assert SECRET not in (result.error or "")
