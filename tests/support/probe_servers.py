"""Real servers on 127.0.0.1 for health-check tests: HTTP, TCP, DNS (UDP) and TLS.

Each runs in a thread of the test process, can be told how to answer (a status,
a body, a delay), stopped and started again on the same port.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset

from tests.support.server import free_port


@dataclass
class HttpBehaviour:
    status: int = 200
    body: bytes = b'{"status": "ok", "queue": {"depth": 3}}'
    content_type: str = "application/json"
    delay_s: float = 0.0
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


class HttpTarget:
    """An HTTP server whose answers the test sets; `stop()` then `start()` keeps the port."""

    def __init__(self) -> None:
        self.behaviour = HttpBehaviour()
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        behaviour = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                now = behaviour.behaviour
                now.requests.append((self.command, self.path, dict(self.headers.items()), body))
                if now.delay_s:
                    time.sleep(now.delay_s)
                self.send_response(now.status)
                self.send_header("Content-Type", now.content_type)
                self.send_header("Content-Length", str(len(now.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(now.body)

            do_GET = do_POST = do_HEAD = do_PUT = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def http_target() -> Iterator[HttpTarget]:
    target = HttpTarget()
    try:
        yield target
    finally:
        target.stop()


@contextmanager
def tcp_listener() -> Iterator[int]:
    """A port that accepts connections (and closes them)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                connection.close()
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join()
        server.close()


def closed_port() -> int:
    """A port nothing listens on (bound and released)."""
    return free_port()


class DnsServer:
    """A UDP nameserver of fixed records: {("api.test.", "A"): ["10.0.0.7"]}; others are NXDOMAIN."""

    def __init__(self, records: dict[tuple[str, str], list[str]]) -> None:
        self.records = records
        self.silent = False  # answers nothing: the resolver times out
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if self.silent:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().lower()
            kind = dns.rdatatype.to_text(question.rdtype)
            answers = self.records.get((name, kind))
            if answers:
                response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", kind, answers))
            elif not any(n == name for n, _ in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            self._socket.sendto(response.to_wire(), peer)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


@contextmanager
def dns_server(records: dict[tuple[str, str], list[str]]) -> Iterator[DnsServer]:
    server = DnsServer(records)
    try:
        yield server
    finally:
        server.stop()


def self_signed(directory: Path, days: int, name: str = "localhost") -> tuple[Path, Path]:
    """A certificate valid for `days` from now (openssl), and its key."""
    cert, key = directory / f"{name}-{days}.pem", directory / f"{name}-{days}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", str(days), "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[int]:
    """A TLS port presenting `cert`: it completes handshakes and closes."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                connection.settimeout(2)
                with context.wrap_socket(connection, server_side=True) as wrapped:
                    wrapped.recv(1)
            except (OSError, ssl.SSLError):
                pass
            finally:
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join()
        server.close()
