"""A fake HTTP server on 127.0.0.1 that records every request and answers as told.

    with FakeHTTPServer() as server:                 # answers 204 until told otherwise
        server.respond(429, {"retry_after": 0.8}, {"Retry-After": "1"})   # the next request only
        server.respond(500, times=2)                 # then two 500s
        server.default = Answer(200, "ok")           # then this, for every later request
        post_something(server.url + "/api/webhooks/1/token")
        assert server.requests[0].json()["content"] == "…"

Answers queued with `respond()` are used once each, in order; when none is
left, `default` answers. A `delay` holds the answer back (to test timeouts);
closing the server cuts every delay short. Requests are recorded before they
are answered, so `requests` also shows the ones a client gave up on.
Bodies are read by Content-Length (no chunked uploads).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

Body = bytes | str | dict[str, Any] | list[Any] | None


@dataclass(frozen=True)
class Answer:
    status: int = 204
    body: Body = None  # a dict or list is sent as JSON
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(self.body).encode(), headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode(), headers
        return self.body or b"", headers


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # with the query string, as sent
    headers: tuple[tuple[str, str], ...]  # in order, names as sent
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header of that name, case-insensitively."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def route(self) -> str:
        """The path without the query string."""
        return urlsplit(self.path).path


class FakeHTTPServer:
    def __init__(self, default: Answer | None = None) -> None:
        self.default = default or Answer()
        self._queue: deque[Answer] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval: close() waits up to one interval for the loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-http", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash: append any path."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def respond(
        self,
        status: int = 200,
        body: Body = None,
        headers: Mapping[str, str] | None = None,
        *,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Queue an answer for the next `times` requests."""
        answer = Answer(status, body, dict(headers or {}), delay)
        with self._lock:
            self._queue.extend([answer] * times)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `count` requests arrived (for senders that post from another thread)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"expected {count} requests within {timeout} s, got {len(self._requests)}")
            return list(self._requests)

    def wait_for_body(self, text: str, timeout: float = 5.0) -> RecordedRequest:
        """Block until a request whose body contains `text` arrived; that request."""

        def found() -> RecordedRequest | None:
            return next((r for r in self._requests if text.encode() in r.body), None)

        with self._arrived:
            if not self._arrived.wait_for(lambda: found() is not None, timeout):
                raise TimeoutError(f"no request with {text!r} within {timeout} s; got {len(self._requests)}")
            request = found()
            assert request is not None
            return request

    def clear(self) -> None:
        """Forget recorded requests and queued answers."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeHTTPServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _record(self, request: RecordedRequest) -> Answer:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()
            return self._queue.popleft() if self._queue else self.default


def _handler_for(fake: FakeHTTPServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = fake._record(RecordedRequest(self.command, self.path, tuple(self.headers.items()), body))
            if answer.delay and fake._closing.wait(answer.delay):
                return
            payload, headers = answer.encoded()
            self.send_response(answer.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass  # pytest shows stderr of failing tests; a line per request would drown the failure

    return Handler
