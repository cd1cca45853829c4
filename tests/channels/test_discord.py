"""Discord webhooks: the embed, the mention, and what Discord's answers mean."""

from __future__ import annotations

import pytest

from tests.channels.samples import NOW, TOKEN, answer_with, page, webhook_url
from tests.support.fake_http import FakeHTTPServer
from tocsin.channels import discord
from tocsin.channels.message import MessageKind
from tocsin.channels.result import Outcome


def test_a_page_is_one_embed_that_pings_only_the_person_paged(fake_http: FakeHTTPServer) -> None:
    result = discord.send(webhook_url(fake_http), page())
    assert result.delivered
    (request,) = fake_http.requests
    assert request.method == "POST"
    assert request.route == f"/api/webhooks/111/{TOKEN}"
    assert request.header("Content-Type") == "application/json"
    body = request.json()
    assert body["content"] == "<@80351110224678912> [P1] INC-2026-11-23-001 Checkout is down"
    assert body["allowed_mentions"] == {"parse": [], "users": ["80351110224678912"]}
    (embed,) = body["embeds"]
    assert embed == {
        "title": "[P1] INC-2026-11-23-001 Checkout is down",
        "description": "5xx ratio 12% over 5m\n\n[Acknowledge](https://tocsin.example.com/ack/eyJhbGciOi.sig)",
        "url": "https://tocsin.example.com/incidents/INC-2026-11-23-001",
        "color": 0xF2711C,
        "timestamp": NOW.isoformat(),
        "footer": {"text": "Tocsin"},
        "fields": [
            {"name": "Service", "value": "checkout", "inline": True},
            {"name": "Status", "value": "triggered", "inline": True},
        ],
    }


def test_without_a_mention_nobody_is_pinged_not_even_by_everyone_in_the_text() -> None:
    body = discord.payload(page(mention=None, text="@everyone checkout is down"))
    assert "content" not in body
    assert body["allowed_mentions"] == {"parse": []}


def test_a_team_channels_role_is_pinged_as_a_role_and_nothing_else() -> None:
    body = discord.payload(page(mention="&1081234567890123456", text="@everyone look"))
    assert body["content"] == "<@&1081234567890123456> [P1] INC-2026-11-23-001 Checkout is down"
    assert body["allowed_mentions"] == {"parse": [], "roles": ["1081234567890123456"]}


@pytest.mark.parametrize(
    ("changes", "colour"),
    [
        ({"severity_rank": 0}, 0xE01E5A),
        ({"severity_rank": 1}, 0xF2711C),
        ({"severity_rank": 2}, 0xECB22E),
        ({"severity_rank": 7}, 0x36C5F0),
        ({"severity_rank": None, "severity": None}, 0x95A5A6),
        ({"kind": MessageKind.RESOLVED, "severity_rank": 0}, 0x2EB67D),
    ],
)
def test_the_colour_follows_the_severity_and_resolved_is_green(changes: dict[str, object], colour: int) -> None:
    assert discord.payload(page(**changes))["embeds"][0]["color"] == colour


def test_discord_limits_are_respected() -> None:
    long_fields = tuple((f"name {i}", "v" * 2000) for i in range(40))
    body = discord.payload(page(title="t" * 500, text="x" * 10_000, fields=long_fields))
    (embed,) = body["embeds"]
    assert len(embed["title"]) <= 256
    assert len(embed["description"]) <= 4096
    assert embed["description"].endswith("[Acknowledge](https://tocsin.example.com/ack/eyJhbGciOi.sig)")
    assert len(embed["fields"]) <= 25
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    total += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000
    assert len(body["content"]) <= 2000


def test_an_empty_field_value_is_shown_as_a_dash() -> None:
    (embed,) = discord.payload(page(fields=(("Runbook", ""),)))["embeds"]
    assert embed["fields"] == [{"name": "Runbook", "value": "-", "inline": True}]


def test_a_rate_limit_is_retried_after_what_discord_asked(fake_http: FakeHTTPServer) -> None:
    answer_with(fake_http, "discord_429")  # Retry-After: 1, body retry_after: 0.8
    result = discord.send(webhook_url(fake_http), page())
    assert (result.outcome, result.status, result.retry_after) == (Outcome.RETRY, 429, 1.0)


def test_the_body_retry_after_counts_when_it_is_the_longer_one(fake_http: FakeHTTPServer) -> None:
    fake_http.respond(429, {"message": "You are being rate limited.", "retry_after": 2.5, "global": False})
    result = discord.send(webhook_url(fake_http), page())
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 2.5)


def test_a_deleted_webhook_fails_at_once_with_discords_words_and_without_the_url(fake_http: FakeHTTPServer) -> None:
    answer_with(fake_http, "discord_404")
    url = webhook_url(fake_http)
    result = discord.send(url, page())
    assert (result.outcome, result.status) == (Outcome.PERMANENT, 404)
    assert result.error == "127.0.0.1 refused the message: HTTP 404 (Unknown Webhook, code 10015)"
    assert url not in result.error
    assert TOKEN not in result.error


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, Outcome.PERMANENT),
        (401, Outcome.PERMANENT),
        (403, Outcome.PERMANENT),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (200, Outcome.OK),
        (204, Outcome.OK),
    ],
)
def test_discord_answers(fake_http: FakeHTTPServer, status: int, outcome: Outcome) -> None:
    fake_http.respond(status, {"message": "whatever", "code": 0} if status >= 400 else None)
    assert discord.send(webhook_url(fake_http), page()).outcome is outcome


def test_an_invalid_form_body_is_permanent(fake_http: FakeHTTPServer) -> None:
    answer_with(fake_http, "discord_400")
    result = discord.send(webhook_url(fake_http), page())
    assert result.outcome is Outcome.PERMANENT
    assert result.error == "127.0.0.1 refused the message: HTTP 400 (Invalid Form Body, code 50035)"
