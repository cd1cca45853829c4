"""Apprise URLs, delivered through apprise's own JSON plugin to the fake HTTP server."""

from __future__ import annotations

from tests.channels.samples import page
from tests.support.fake_http import FakeHTTPServer
from tests.support.server import free_port
from tocsin.channels import apprise_channel
from tocsin.channels.message import MessageKind
from tocsin.channels.result import Outcome


def json_url(server: FakeHTTPServer, path: str = "/apprise/hook") -> str:
    return f"json://127.0.0.1:{server.port}{path}"


def test_an_apprise_url_delivers_title_and_body(fake_http: FakeHTTPServer) -> None:
    result = apprise_channel.send(json_url(fake_http), page())
    assert result.outcome is Outcome.OK
    (request,) = fake_http.requests
    assert (request.method, request.route) == ("POST", "/apprise/hook")
    body = request.json()
    assert body["title"] == "[P1] INC-2026-11-23-001 Checkout is down"
    assert body["type"] == "failure"
    assert body["message"].splitlines() == [
        "5xx ratio 12% over 5m",
        "Service: checkout",
        "Status: triggered",
        "Acknowledge: https://tocsin.example.com/ack/eyJhbGciOi.sig",
        "Incident: https://tocsin.example.com/incidents/INC-2026-11-23-001",
    ]


def test_a_resolved_message_is_a_success(fake_http: FakeHTTPServer) -> None:
    apprise_channel.send(json_url(fake_http), page(kind=MessageKind.RESOLVED))
    assert fake_http.requests[0].json()["type"] == "success"


def test_a_failure_is_retried_with_the_service_name_only(fake_http: FakeHTTPServer) -> None:
    fake_http.respond(500)
    result = apprise_channel.send(json_url(fake_http, "/apprise/s3cr3t-path-token"), page())
    assert (result.outcome, result.error) == (Outcome.RETRY, "JSON did not accept the message")


def test_an_unreachable_service_is_retried() -> None:
    result = apprise_channel.send(f"json://127.0.0.1:{free_port()}/hook", page())
    assert result.outcome is Outcome.RETRY


def test_a_url_no_apprise_service_accepts_fails_at_once() -> None:
    for url in ("nosuchservice://token@host", "not a url at all"):
        result = apprise_channel.send(url, page())
        assert result.outcome is Outcome.PERMANENT
        assert result.error is not None
        assert "token" not in result.error


def test_an_empty_message_still_has_a_body() -> None:
    assert apprise_channel.body(page(text="", fields=(), url=None, ack_url=None)) == page().headline


def test_every_kind_of_message_has_an_apprise_type(fake_http: FakeHTTPServer) -> None:
    for kind in MessageKind:
        assert apprise_channel.send(json_url(fake_http), page(kind=kind)).delivered
    assert [r.json()["type"] for r in fake_http.requests][-2:] == ["info", "warning"]  # verify, post
