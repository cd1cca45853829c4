"""Kept-alive HTTP/1.1 connections on an asyncio event loop: how the engine POSTs many
webhooks at once from one thread.

httpx's synchronous client costs about 270 µs of CPU a request on one thread, and
twice that when the eight sending threads fight for the GIL: at a thousand pages a
second that was most of a core. This does one POST in a few tens of µs, and a
request in flight is a coroutine, not a thread.

It does only what a webhook POST needs: one request at a time per connection,
at most `per_host` connections to each host, idle ones reused until
`keepalive_s`; no redirects (a 3xx is an answer like any other), no proxies,
no cookies; the answer read whole (Content-Length, chunked or until the server
closes; httptools parses it, the C parser uvicorn uses), at most `MAX_BODY`
bytes of it kept. Each phase — connecting (with TLS), writing, reading the
answer — has `timeout` seconds, so three of them bound a request.

Failures are httpx's exceptions (`ConnectError`, `ConnectTimeout`, `WriteError`,
`WriteTimeout`, `ReadError`, `ReadTimeout`, `RemoteProtocolError`,
`LocalProtocolError`), and an answer is an `httpx.Response`, so `posting` reads
both the same way whichever client made the request. None of the exceptions'
messages quote the URL.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httptools
import httpx

# An answer's body is a webhook's few words about the message; past this it is cut off
# (and the connection closed), so a far end cannot make a sender hold megabytes.
MAX_BODY = 1 << 20
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK = 65536
# A line break or NUL in a header would let it end the header block early.
_UNSAFE = re.compile(r"[\r\n\0]")

_Key = tuple[str, str, int]  # scheme, host, port


@dataclass
class _Answer:
    """httptools' callbacks for one response (and any 1xx before it)."""

    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    size: int = 0
    headers_done: bool = False
    complete: bool = False
    overflow: bool = False
    extra: bool = False  # bytes after the answer: the connection is not in a state to reuse
    keep_alive: bool = False
    parser: httptools.HttpResponseParser | None = None

    def on_message_begin(self) -> None:
        if self.complete:
            self.extra = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        self.status = self.parser.get_status_code()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if self.size + len(body) > MAX_BODY:
            body = body[: MAX_BODY - self.size]
            self.overflow = True
        self.body.append(body)
        self.size += len(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            # An informational answer (100 Continue, 103 Early Hints): the real one follows.
            self.headers, self.headers_done, self.status = [], False, 0
            return
        self.complete = True
        self.keep_alive = self.parser is not None and self.parser.should_keep_alive()  # reset after the message

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key.lower() == name), None)


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float, keepalive_s: float) -> bool:
        # A server that closed an idle connection has sent its EOF, which the loop has read.
        return (
            now - self.idle_since < keepalive_s and not self.reader.at_eof() and not self.writer.transport.is_closing()
        )

    def abort(self) -> None:
        self.writer.transport.abort()


class Connections:
    """Use it from one event loop (the one that calls `post`); `aclose()` ends every connection."""

    def __init__(
        self,
        *,
        per_host: int = 8,
        keepalive_s: float = 30.0,
        tls: Callable[[], ssl.SSLContext] | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_host = per_host
        self.keepalive_s = keepalive_s
        self._tls = tls or ssl.create_default_context
        self._timer = timer
        self._idle: dict[_Key, list[_Connection]] = {}
        self._slots: dict[_Key, asyncio.Semaphore] = {}

    async def post(self, url: httpx.URL, body: bytes, headers: Mapping[str, str], *, timeout: float) -> httpx.Response:
        """POST `body` to `url` (an absolute http(s) URL) and read the whole answer."""
        if url.scheme not in _DEFAULT_PORTS or not url.raw_host:
            raise httpx.UnsupportedProtocol("the address must be an http:// or https:// URL")
        host = url.raw_host.decode("ascii")
        key = (url.scheme, host, url.port or _DEFAULT_PORTS[url.scheme])
        request = _request_head(url, len(body), headers) + body
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = asyncio.Semaphore(self.per_host)
        async with slots:
            connection = self._take_idle(key) or await self._connect(key, timeout)
            try:
                answer = await _exchange(connection, request, timeout)
            except BaseException:
                connection.abort()
                raise
            if answer.keep_alive and not answer.overflow and not answer.extra:
                connection.idle_since = self._timer()
                self._idle.setdefault(key, []).append(connection)
            else:
                connection.writer.close()
        return httpx.Response(answer.status, headers=answer.headers, content=b"".join(answer.body))

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.writer.close()

    def idle(self) -> int:
        """How many kept-alive connections wait for a request."""
        return sum(len(connections) for connections in self._idle.values())

    def _take_idle(self, key: _Key) -> _Connection | None:
        connections = self._idle.get(key)
        now = self._timer()
        while connections:
            connection = connections.pop()  # the most recently used: the least likely to have timed out
            if connection.usable(now, self.keepalive_s):
                return connection
            connection.writer.close()
        return None

    async def _connect(self, key: _Key, timeout: float) -> _Connection:
        scheme, host, port = key
        context = self._tls() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if context else None, limit=_CHUNK
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("connecting timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(type(exc).__name__) from None
        return _Connection(reader, writer)


def _request_head(url: httpx.URL, length: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"POST {url.raw_path.decode('ascii')} HTTP/1.1", f"Host: {url.netloc.decode('ascii')}"]
    for name, value in headers.items():
        if _UNSAFE.search(name) or _UNSAFE.search(value):
            raise httpx.LocalProtocolError("a header name or value holds a line break")
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {length}\r\n\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise httpx.LocalProtocolError("a header value holds a character HTTP/1.1 cannot carry") from None


async def _exchange(connection: _Connection, request: bytes, timeout: float) -> _Answer:
    connection.writer.write(request)
    try:
        async with asyncio.timeout(timeout):
            await connection.writer.drain()
    except TimeoutError:
        raise httpx.WriteTimeout("writing the request timed out") from None
    except OSError as exc:
        raise httpx.WriteError(type(exc).__name__) from None
    answer = _Answer()
    parser = answer.parser = httptools.HttpResponseParser(answer)
    try:
        async with asyncio.timeout(timeout):
            while not answer.complete and not answer.overflow:
                try:
                    data = await connection.reader.read(_CHUNK)
                except OSError as exc:
                    raise httpx.ReadError(type(exc).__name__) from None
                if not data:
                    # The server closed: the end of an answer without a length, or a cut-off one.
                    framed = answer.header(b"content-length") is not None or answer.header(b"transfer-encoding")
                    if not answer.headers_done or framed:
                        raise httpx.RemoteProtocolError("the server closed the connection before answering")
                    answer.complete, answer.extra = True, True  # not reusable
                    break
                try:
                    parser.feed_data(data)
                except httptools.HttpParserUpgrade:
                    raise httpx.RemoteProtocolError("the server switched protocols") from None
                except httptools.HttpParserError as exc:
                    raise httpx.RemoteProtocolError(f"a malformed answer ({type(exc).__name__})") from None
    except TimeoutError:
        raise httpx.ReadTimeout("reading the answer timed out") from None
    return answer
