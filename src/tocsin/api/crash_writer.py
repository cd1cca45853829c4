"""The crash writer: many requests' crash reports committed in one transaction.

Like the alert ingest writer (`tocsin.api.ingest`), one thread per process takes
what the envelope requests hand over and commits them together: a request waits
for the commit that holds its report, so its 200 still means "durably stored",
while the database sees one transaction per batch instead of one per envelope
(a thread pool of writers on SQLite mostly waited for each other's lock).
A batch that fails is retried request by request, so one bad report fails
only its own request. The request wakes the engine when its report declared an
incident, as the other ingest routes do.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

import structlog
from sqlalchemy.orm import Session, sessionmaker

from tocsin.clock import Clock
from tocsin.services import crashes
from tocsin.storage.db import writer_sessions

log = structlog.get_logger(__name__)


@dataclass
class _Work:
    report: crashes.Report
    done: Future[crashes.Received] = field(default_factory=Future)


class CrashWriter:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, max_batch: int = 500) -> None:
        self._sessions = writer_sessions(sessions)
        self._own_engine = self._sessions.kw["bind"] if self._sessions is not sessions else None
        self._clock = clock
        self._max_batch = max_batch
        self._queue: queue.Queue[_Work | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        # As the ingest writer: the app's lifespan can be entered more than once.
        self._users = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            self._thread = threading.Thread(target=self._run, name="tocsin-crashes", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
        self._queue.put(None)  # what is queued already is committed before the thread ends
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._own_engine is not None:
            self._own_engine.dispose()

    async def submit(self, report: crashes.Report) -> crashes.Received:
        work = _Work(report)
        self._queue.put(work)
        return await asyncio.wrap_future(work.done)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Work]) -> None:
        try:
            with self._sessions() as session:
                results = crashes.receive_batch(session, self._clock.now(), [work.report for work in batch])
                session.commit()
        except Exception:
            log.warning("crash batch failed; retrying its requests one by one", requests=len(batch))
            for work in batch:
                self._commit_one(work)
            return
        for work, result in zip(batch, results, strict=True):
            work.done.set_result(result)

    def _commit_one(self, work: _Work) -> None:
        try:
            with self._sessions() as session:
                (result,) = crashes.receive_batch(session, self._clock.now(), [work.report])
                session.commit()
        except Exception as exc:
            log.exception("crash report failed", integration=work.report.integration.name)
            work.done.set_exception(exc)
            return
        work.done.set_result(result)
