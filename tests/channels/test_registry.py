"""`send()` picks the adapter by contact kind, never raises, and never leaks an address."""

from __future__ import annotations

import asyncio

import pytest

from tests.channels.samples import NOW, TOKEN, SmtpServer, page, webhook_url
from tests.support.fake_http import Answer, FakeHTTPServer
from tocsin.channels import Connections, discord, registry, send, send_async
from tocsin.channels.email import SmtpSettings
from tocsin.channels.result import DeliveryResult, Outcome
from tocsin.domain.notify import ContactKind


def test_discord_slack_and_webhook_go_to_their_url(fake_http: FakeHTTPServer) -> None:
    fake_http.default = Answer(200, "ok")
    for kind in (ContactKind.DISCORD, ContactKind.SLACK, ContactKind.WEBHOOK):
        assert send(kind, webhook_url(fake_http, f"/{kind}"), page(), secret="webhook-secret", now=NOW).delivered
    discord_request, slack_request, webhook_request = fake_http.requests
    assert "embeds" in discord_request.json()
    assert "blocks" in slack_request.json()
    assert webhook_request.header("X-Tocsin-Signature") is not None


def test_kinds_can_be_given_as_plain_strings(fake_http: FakeHTTPServer) -> None:
    assert send("discord", webhook_url(fake_http), page()).delivered


def test_email_goes_through_the_configured_smtp_server(mailbox: SmtpServer) -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=mailbox.port, from_address="tocsin@ops.example.com")
    assert send(ContactKind.EMAIL, "alice@example.com", page(), smtp=smtp, now=NOW).delivered
    assert len(mailbox.mailbox.received) == 1


def test_email_without_an_smtp_server_fails_at_once() -> None:
    result = send(ContactKind.EMAIL, "alice@example.com", page())
    assert (result.outcome, result.error) == (Outcome.PERMANENT, "e-mail is not set up: no SMTP server is configured")


@pytest.mark.parametrize("kind", [ContactKind.APPRISE, ContactKind.SMS, ContactKind.VOICE])
def test_apprise_sms_and_voice_go_through_apprise(fake_http: FakeHTTPServer, kind: ContactKind) -> None:
    assert send(kind, f"json://127.0.0.1:{fake_http.port}/{kind}", page()).delivered
    assert fake_http.requests[0].route == f"/{kind}"


def test_a_bare_phone_number_for_sms_fails_at_once() -> None:
    result = send(ContactKind.SMS, "+4915112345678", page())
    assert result.outcome is Outcome.PERMANENT
    assert result.error is not None
    assert "+4915112345678" not in result.error


def test_an_unknown_kind_fails_at_once() -> None:
    assert send("pigeon", "coop://roof", page()).outcome is Outcome.PERMANENT


def test_a_bug_in_an_adapter_is_a_retry_and_quotes_no_exception_text(
    fake_http: FakeHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = webhook_url(fake_http)

    def broken(address: str, *args: object, **kwargs: object) -> DeliveryResult:
        raise RuntimeError(f"boom while posting to {address}")

    monkeypatch.setattr(discord, "send", broken)
    result = registry.send(ContactKind.DISCORD, url, page())
    assert (result.outcome, result.error) == (Outcome.RETRY, "unexpected error in the discord channel (RuntimeError)")


def test_an_error_that_quotes_the_address_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"https://discord.com/api/webhooks/1/{TOKEN}"

    def careless(address: str, *args: object, **kwargs: object) -> DeliveryResult:
        return DeliveryResult.permanent(f"could not post to {address}")

    monkeypatch.setattr(discord, "send", careless)
    assert send(ContactKind.DISCORD, url, page()).error == "could not post to [redacted]"


def test_a_refused_connection_is_a_retry_for_every_http_channel() -> None:
    from tests.support.server import free_port

    url = f"http://127.0.0.1:{free_port()}/hook/{TOKEN}"
    for kind in (ContactKind.DISCORD, ContactKind.SLACK, ContactKind.WEBHOOK):
        result = send(kind, url, page(), timeout=2)
        assert result.outcome is Outcome.RETRY
        assert result.error is not None
        assert TOKEN not in result.error


def test_on_an_event_loop_the_http_kinds_go_to_their_url_and_errors_never_quote_it(fake_http: FakeHTTPServer) -> None:
    fake_http.default = Answer(200, "ok")

    async def go() -> list[DeliveryResult]:
        pool = Connections()
        results = [
            await send_async(
                kind, webhook_url(fake_http, f"/{kind}"), page(), connections=pool, secret="whsec-1234567890"
            )
            for kind in ("discord", "slack", "webhook")
        ]
        fake_http.respond(404, f"no such hook {TOKEN}")
        results.append(await send_async("webhook", webhook_url(fake_http), page(), connections=pool))
        await pool.aclose()
        return results

    *delivered, refused = asyncio.run(go())
    assert [result.delivered for result in delivered] == [True, True, True]
    discord_request, slack_request, webhook_request, _ = fake_http.requests
    assert "embeds" in discord_request.json()
    assert "blocks" in slack_request.json()
    assert webhook_request.header("X-Tocsin-Signature") is not None
    assert refused.outcome is Outcome.PERMANENT
    assert TOKEN not in (refused.error or "")
