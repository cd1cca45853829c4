"""One ingest writer process for several HTTP processes on one SQLite file.

A SQLite file takes one writer at a time, and one Python process uses one core:
HTTP parsing, validation and the group commit then share a single GIL. With
`tocsin serve --workers N` on SQLite the work is split instead:

    HTTP workers (N)   parse, authenticate, validate, answer   → RemoteWriter
    writer process     one IngestWriter (group commit) and the engine

The HTTP workers hand each request's signals to the writer process over a Unix
socket and answer once it replies, so a 2xx still means "committed". Only the
writer process group-commits into the file; the workers' own writes (API calls,
change events) are single short transactions, as from any other client.

Frames are a 4-byte length and a pickle. Pickle is safe here only because the
socket lives in a directory only this user can open (mode 0700), created by the
`tocsin serve` that starts both sides.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import struct
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
from sqlalchemy.orm import Session, sessionmaker

from tocsin.api.ingest import IngestWriter
from tocsin.clock import Clock
from tocsin.domain.alerts import Signal
from tocsin.errors import Unavailable
from tocsin.integrations import pagerduty
from tocsin.services import alerts
from tocsin.services.integrations import IntegrationRef

log = structlog.get_logger(__name__)

_HEADER = struct.Struct("!I")
# Messages a worker sends.
_SUBMIT, _INVALIDATE, _WAKE = "submit", "invalidate", "wake"


class WriterUnavailable(Unavailable):
    """The writer process is gone (restarting): the request may not have been committed."""


def _frame(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return pickle.loads(await reader.readexactly(size))  # noqa: S301 - a socket only this user can open


# ---- the writer process -------------------------------------------------------


async def serve_writer(path: str, writer: IngestWriter, wake: Callable[[], None] | None = None) -> None:
    """Accept workers on `path` and feed their signals to `writer` until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()

    async def worker(reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        replies = _Outbox(stream)
        connections.add(replies)

        def committed(request_id: int, done: Future[list[alerts.Outcome]]) -> None:
            error = done.exception()  # on the writer thread, as the batch commits
            replies.ready((request_id, None, repr(error)) if error else (request_id, done.result(), None))

        try:
            while True:
                for message in await _read_frame(reader):
                    kind = message[0]
                    if kind == _SUBMIT:
                        _, request_id, integration, signals = message
                        writer.enqueue(integration, signals, partial(committed, request_id))
                    elif kind == _INVALIDATE:
                        writer.config.invalidate()
                    elif kind == _WAKE and wake is not None:
                        wake()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker went away; work it queued is still committed
        finally:
            connections.discard(replies)
            stream.close()

    connections: set[_Outbox] = set()

    def send_all() -> None:
        for outbox in list(connections):
            outbox.send_ready()

    def batch_done() -> None:
        # On the writer thread: one wake-up of the loop per batch, whatever its size.
        loop.call_soon_threadsafe(send_all)

    writer.after_batch = batch_done
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_unix_server(worker, path=path)
    os.chmod(path, 0o600)
    log.info("ingest writer ready", socket=path)
    async with server:
        await stop.wait()


class _Outbox:
    """Messages to one peer, sent as one frame per event-loop turn: under load a frame
    carries many requests (or answers), and one pickle of them all writes a repeated
    object, such as the integration of a storm, once."""

    def __init__(self, stream: asyncio.StreamWriter) -> None:
        self.stream = stream
        self._messages: list[Any] = []
        # Answers made on the writer thread, waiting for the loop (see send_ready).
        self._ready: list[Any] = []
        self._lock = threading.Lock()

    def ready(self, message: Any) -> None:
        """From another thread: queue a message for the next `send_ready` on the loop."""
        with self._lock:
            self._ready.append(message)

    def send_ready(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
        if ready and not self.stream.is_closing():
            self.stream.write(_frame(ready))

    def add(self, message: Any) -> None:
        if not self._messages:
            asyncio.get_running_loop().call_soon(self._flush)
        self._messages.append(message)

    def _flush(self) -> None:
        messages, self._messages = self._messages, []
        if messages and not self.stream.is_closing():
            self.stream.write(_frame(messages))


# ---- an HTTP worker's side ------------------------------------------------------


@dataclass
class _RemoteConfig:
    """What `db_session` calls after an API change commits: tell the writer process to
    drop its configuration snapshot. Called from a threadpool thread."""

    remote: RemoteWriter

    def invalidate(self) -> None:
        self.remote.send_soon((_INVALIDATE,))


class RemoteWriter:
    """The IngestWriter interface, served by the writer process."""

    def __init__(self, path: str, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._path = path
        # Change events are rare and committed here, directly, as the in-process writer does.
        self._local = IngestWriter(sessions, clock)
        self.config = _RemoteConfig(self)
        self.on_opened: Callable[[], None] | None = None  # the engine runs in the writer process, which wakes it itself
        self._reading: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly
        self._outbox: _Outbox | None = None
        self._connecting: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[int, asyncio.Future[list[alerts.Outcome]]] = {}
        self._next_id = 0

    def start(self) -> None:
        pass  # connected on first use, inside the server's event loop

    def stop(self) -> None:
        if self._outbox is not None:
            self._outbox.stream.close()

    async def record_change(self, integration: IntegrationRef, event: pagerduty.ChangeEvent, body: bytes) -> None:
        await self._local.record_change(integration, event, body)

    async def submit(self, integration: IntegrationRef, signals: Sequence[Signal]) -> list[alerts.Outcome]:
        outbox = self._outbox
        if outbox is None or outbox.stream.is_closing():
            outbox = await self._connect()
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[list[alerts.Outcome]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        outbox.add((_SUBMIT, request_id, integration, signals))
        return await future

    def wake(self) -> None:
        """Ask the writer process's engine to run now (an incident was declared here)."""
        self.send_soon((_WAKE,))

    def send_soon(self, message: tuple[Any, ...]) -> None:
        """Send from any thread; dropped when not connected (the writer re-reads within seconds)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def send() -> None:
            if self._outbox is not None and not self._outbox.stream.is_closing():
                self._outbox.add(message)

        loop.call_soon_threadsafe(send)

    async def _connect(self) -> _Outbox:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._outbox is not None and not self._outbox.stream.is_closing():
                return self._outbox
            try:
                reader, stream = await asyncio.open_unix_connection(self._path)
            except OSError as exc:
                raise WriterUnavailable(f"the ingest writer process is not reachable: {exc}") from None
            self._loop = asyncio.get_running_loop()
            self._outbox = _Outbox(stream)
            self._reading = asyncio.get_running_loop().create_task(self._read(reader, stream))
            return self._outbox

    async def _read(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        try:
            while True:
                for request_id, outcomes, error in await _read_frame(reader):
                    future = self._pending.pop(request_id, None)
                    if future is None or future.done():
                        continue
                    if error is not None:
                        future.set_exception(RuntimeError(f"ingest failed in the writer process: {error}"))
                    else:
                        future.set_result(outcomes)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            stream.close()
            if self._outbox is not None and self._outbox.stream is stream:
                self._outbox = None
            # Whatever was in flight may or may not have committed; the sender retries,
            # and a retry of the same alert is a repeat, never a second alert.
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_exception(WriterUnavailable("the ingest writer process went away"))
