"""One HTTP POST to a webhook, and what its answer means for a retry.

Shared by the Discord, Slack and generic webhook channels:

    2xx                          ok
    429                          retry, honouring Retry-After (seconds or HTTP date)
    408, 425, 5xx                retry (Retry-After honoured when given, e.g. 503)
    3xx                          permanent: redirects are not followed, the URL must be fixed
    other 4xx (400/401/403/404…) permanent: the webhook is gone or refuses us
    timeout, refused, reset, DNS retry
    not an http(s) URL           permanent

The webhook URL is the credential, so no error text quotes it, nor an
exception's message (httpx puts the URL into some of them): only the host.

A channel describes its request as a `Post`; `send` makes it with an httpx
client (one call, from any thread), `send_async` on an event loop through
`connections.Connections` (the engine, many at once). Both read the answer,
and the failure, the same way.
"""

from __future__ import annotations

import functools
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

import tocsin
from tocsin.channels.connections import Connections
from tocsin.channels.result import MAX_RETRY_AFTER, DeliveryResult

DEFAULT_TIMEOUT = 10.0
USER_AGENT = f"Tocsin/{tocsin.__version__}"

_RETRYABLE_4XX = frozenset({408, 425, 429})
_NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class Clients:
    """Long-lived HTTP clients, one per channel kind, so a sender reuses its keep-alive
    connections to each host (httpx pools them per host) from one notification to the
    next instead of paying a TCP and TLS handshake for every message.

    `connections` bounds each client's connections per host and should match the number of
    threads sending at once: a thread that waits for a free connection uses up its timeout.
    Thread-safe. `close()` ends every connection; a closed pool opens new clients on demand.
    """

    def __init__(self, *, connections: int = 16, keepalive_s: float = 30.0) -> None:
        self._limits = httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=keepalive_s
        )
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def get(self, kind: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(kind)
            if client is None:
                # httpcore writes a request's headers and body in two sends; with Nagle's algorithm
                # the body would wait for the peer's (possibly delayed) ACK of the headers.
                transport = httpx.HTTPTransport(verify=tls_context(), limits=self._limits, socket_options=_NO_DELAY)
                # Redirects stay unfollowed (`classify` fails them): a webhook that moved must be fixed.
                client = httpx.Client(transport=transport, follow_redirects=False)
                self._clients[kind] = client
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


@dataclass(frozen=True)
class Post:
    """One POST of a JSON body that a channel wants made, and how to read its answer.

    `explain` turns a refusal into a short reason (the default: the status);
    `wait` reads a channel's own "retry after" from the answer's body, which
    is honoured together with the Retry-After header (the longer wins).
    """

    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    explain: Callable[[httpx.Response], str] | None = None
    wait: Callable[[httpx.Response], float | None] | None = None


def encode(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (what `json.dumps(ensure_ascii=False, separators=(",", ":"))` writes), in a
    tenth of the time."""
    return orjson.dumps(body)


def post(
    url: str,
    body: bytes,
    *,
    client: httpx.Client | None,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    explain: Callable[[httpx.Response], str] | None = None,
    wait: Callable[[httpx.Response], float | None] | None = None,
) -> DeliveryResult:
    """POST `body` as JSON (`Post` says what the arguments mean)."""
    return send(Post(url, body, headers or {}, explain, wait), client=client, timeout=timeout)


def send(request: Post, *, client: httpx.Client | None, timeout: float) -> DeliveryResult:
    """Make `request` with `client` (without one, with a client of its own for this call)."""
    target = _target(request.url)
    if isinstance(target, DeliveryResult):
        return target
    headers = _headers(request)
    try:
        if client is None:
            with httpx.Client(timeout=timeout, verify=tls_context()) as own:
                response = own.post(target, content=request.body, headers=headers, timeout=timeout)
        else:
            response = client.post(target, content=request.body, headers=headers, timeout=timeout)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return _failed(exc, target.host, timeout)
    return classify(response, host=target.host, explain=request.explain, wait=request.wait)


async def send_async(request: Post, *, connections: Connections, timeout: float) -> DeliveryResult:
    """Make `request` on the running event loop, over `connections` (kept alive between calls)."""
    target = _target(request.url)
    if isinstance(target, DeliveryResult):
        return target
    try:
        response = await connections.post(target, request.body, _headers(request), timeout=timeout)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return _failed(exc, target.host, timeout)
    return classify(response, host=target.host, explain=request.explain, wait=request.wait)


@functools.lru_cache(maxsize=1024)
def _target(url: str) -> httpx.URL | DeliveryResult:
    # Parsing a URL is a tenth of a page's CPU on the event loop; a few addresses get most pages.
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return DeliveryResult.permanent("the webhook address is not a valid URL")
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return DeliveryResult.permanent("the webhook address must be an http:// or https:// URL")
    return parsed


def _headers(request: Post) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT, **request.headers}


def _failed(exc: httpx.HTTPError | httpx.InvalidURL, host: str, timeout: float) -> DeliveryResult:
    """What a request that got no answer means; never the exception's text (it may quote the URL)."""
    if isinstance(exc, httpx.TimeoutException):
        return DeliveryResult.retry(f"{host} did not answer within {timeout:g} s")
    if isinstance(exc, httpx.ConnectError | httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return DeliveryResult.retry(f"could not reach {host} (connection failed)")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return DeliveryResult.permanent("the webhook address is not a valid URL")
    if isinstance(exc, httpx.TransportError):
        return DeliveryResult.retry(f"could not reach {host} ({type(exc).__name__})")
    raise exc


def classify(
    response: httpx.Response,
    *,
    host: str,
    explain: Callable[[httpx.Response], str] | None = None,
    wait: Callable[[httpx.Response], float | None] | None = None,
) -> DeliveryResult:
    status = response.status_code
    if 200 <= status < 300:
        return DeliveryResult.ok(status)
    reason = (explain or _status_line)(response)
    if status in _RETRYABLE_4XX or status >= 500:
        waits = [retry_after(response.headers.get("Retry-After")), wait(response) if wait else None]
        seconds = max((w for w in waits if w is not None), default=None)
        return DeliveryResult.retry(f"{host} answered {reason}", status=status, retry_after=seconds)
    if 300 <= status < 400:
        return DeliveryResult.permanent(
            f"{host} answered {reason} (a redirect, which is not followed): use the final address", status=status
        )
    if status < 200:
        return DeliveryResult.retry(f"{host} answered {reason}", status=status)
    return DeliveryResult.permanent(f"{host} refused the message: {reason}", status=status)


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (decimals accepted, Discord sends them) or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


@functools.cache
def tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~70 ms; one context serves every call (SSLContext is thread-safe).
    return httpx.create_ssl_context()


def _status_line(response: httpx.Response) -> str:
    return f"HTTP {response.status_code}"
