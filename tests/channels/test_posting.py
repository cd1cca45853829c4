"""The HTTP answers every webhook-like channel shares: what is retried, what fails at once."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from tests.channels.samples import TOKEN, webhook_url
from tests.support.fake_http import FakeHTTPServer
from tests.support.server import free_port
from tocsin.channels import posting
from tocsin.channels.connections import Connections
from tocsin.channels.result import Outcome


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (201, Outcome.OK),
        (202, Outcome.OK),
        (204, Outcome.OK),
        (301, Outcome.PERMANENT),
        (308, Outcome.PERMANENT),
        (400, Outcome.PERMANENT),
        (401, Outcome.PERMANENT),
        (403, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (410, Outcome.PERMANENT),
        (413, Outcome.PERMANENT),
        (408, Outcome.RETRY),
        (425, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (504, Outcome.RETRY),
    ],
)
def test_each_status_is_classified(fake_http: FakeHTTPServer, status: int, outcome: Outcome) -> None:
    fake_http.respond(status, headers={"Location": "https://elsewhere.example/"} if 300 <= status < 400 else None)
    result = posting.post(webhook_url(fake_http), b"{}", client=None, timeout=5)
    assert (result.outcome, result.status) == (outcome, status)
    if outcome is not Outcome.OK:
        assert result.error is not None
        assert TOKEN not in result.error
        assert "127.0.0.1" in result.error  # the host is shown, the path with the token is not


def test_a_redirect_is_not_followed(fake_http: FakeHTTPServer) -> None:
    fake_http.respond(302, headers={"Location": fake_http.url + "/moved"})
    result = posting.post(webhook_url(fake_http), b"{}", client=None, timeout=5)
    assert result.outcome is Outcome.PERMANENT
    assert len(fake_http.requests) == 1


def test_a_503_with_retry_after_is_honoured(fake_http: FakeHTTPServer) -> None:
    fake_http.respond(503, headers={"Retry-After": "120"})
    result = posting.post(webhook_url(fake_http), b"{}", client=None, timeout=5)
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 120.0)


def test_a_refused_connection_is_retried_and_names_only_the_host() -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/{TOKEN}"
    result = posting.post(url, b"{}", client=None, timeout=2)
    assert result.outcome is Outcome.RETRY
    assert result.error == "could not reach 127.0.0.1 (connection failed)"


def test_a_server_that_does_not_answer_in_time_is_retried(fake_http: FakeHTTPServer) -> None:
    fake_http.respond(200, delay=5)
    result = posting.post(webhook_url(fake_http), b"{}", client=None, timeout=0.2)
    assert result.outcome is Outcome.RETRY
    assert result.error == "127.0.0.1 did not answer within 0.2 s"


def test_a_shared_client_is_used_and_left_open(fake_http: FakeHTTPServer) -> None:
    with httpx.Client() as client:
        first = posting.post(webhook_url(fake_http), b"{}", client=client, timeout=5)
        second = posting.post(webhook_url(fake_http), b"{}", client=client, timeout=5)
    assert first.delivered
    assert second.delivered
    assert len(fake_http.requests) == 2


class _KeepAlive(BaseHTTPRequestHandler):
    """Answers 204 over HTTP/1.1, keeping the connection open; notes the client's port."""

    protocol_version = "HTTP/1.1"
    peers: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.peers.append(self.client_address[1])
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_pool_keeps_one_client_per_kind_and_its_connections_open() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    clients = posting.Clients(connections=2)
    try:
        assert clients.get("webhook") is clients.get("webhook")
        assert clients.get("webhook") is not clients.get("slack")
        for _ in range(3):
            assert posting.post(url, b"{}", client=clients.get("webhook"), timeout=5).delivered
        # Three posts, one TCP connection: no handshake after the first.
        assert len(_KeepAlive.peers) == 3
        assert len(set(_KeepAlive.peers)) == 1
        closed = clients.get("webhook")
        clients.close()
        assert closed.is_closed
        assert not clients.get("webhook").is_closed  # a closed pool opens a new client when asked
    finally:
        clients.close()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "url", ["", "discord webhook", "ftp://example.com/hook", "file:///etc/passwd", "http://", f"javascript:{TOKEN}"]
)
def test_an_address_that_is_no_http_url_fails_at_once(url: str) -> None:
    result = posting.post(url, b"{}", client=None, timeout=1)
    assert result.outcome is Outcome.PERMANENT
    assert result.error is not None
    assert TOKEN not in result.error


def test_the_body_is_posted_as_json_with_our_user_agent(fake_http: FakeHTTPServer) -> None:
    posting.post(webhook_url(fake_http), b'{"a":1}', client=None, timeout=5, headers={"X-Extra": "yes"})
    (request,) = fake_http.requests
    assert (request.method, request.route, request.body) == ("POST", f"/api/webhooks/111/{TOKEN}", b'{"a":1}')
    assert request.header("content-type") == "application/json"
    assert request.header("user-agent") == posting.USER_AGENT
    assert request.header("x-extra") == "yes"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1", 1.0),
        ("0.8", 0.8),
        (" 30 ", 30.0),
        ("-5", 0.0),
        ("99999999", 3600.0),
        ("Mon, 23 Nov 2026 09:01:30 GMT", 90.0),
        ("Mon, 23 Nov 2026 08:00:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert posting.retry_after(header, now=now) == seconds


def _send_async(url: str, *, timeout: float = 5, wait: Any = None) -> Any:
    async def go() -> Any:
        pool = Connections()
        try:
            return await posting.send_async(posting.Post(url, b"{}", wait=wait), connections=pool, timeout=timeout)
        finally:
            await pool.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(("status", "outcome"), [(204, Outcome.OK), (302, Outcome.PERMANENT), (404, Outcome.PERMANENT)])
def test_on_an_event_loop_answers_are_read_the_same_way(
    fake_http: FakeHTTPServer, status: int, outcome: Outcome
) -> None:
    fake_http.respond(status, headers={"Location": "https://elsewhere.example/"} if status == 302 else None)
    result = _send_async(webhook_url(fake_http))
    assert (result.outcome, result.status) == (outcome, status)
    assert TOKEN not in (result.error or "")


def test_on_an_event_loop_a_429_waits_for_the_longer_of_its_header_and_its_body(fake_http: FakeHTTPServer) -> None:
    fake_http.respond(429, {"retry_after": 7.5}, {"Retry-After": "2"})
    result = _send_async(webhook_url(fake_http), wait=lambda response: response.json()["retry_after"])
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 7.5)


def test_on_an_event_loop_failures_are_retried_and_name_only_the_host(fake_http: FakeHTTPServer) -> None:
    refused = _send_async(f"http://127.0.0.1:{free_port()}/hooks/{TOKEN}", timeout=2)
    assert (refused.outcome, refused.error) == (Outcome.RETRY, "could not reach 127.0.0.1 (connection failed)")
    fake_http.respond(200, delay=5)
    late = _send_async(webhook_url(fake_http), timeout=0.2)
    assert (late.outcome, late.error) == (Outcome.RETRY, "127.0.0.1 did not answer within 0.2 s")
    assert _send_async("ftp://example.com/x").outcome is Outcome.PERMANENT
