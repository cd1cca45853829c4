"""Group commit: many requests' writes in one transaction, by one thread per process.

An ingest request is one small write, and senders make thousands a second. One
transaction each spends most of its time waiting for its commit (the WAL flush)
and, on SQLite, for the single write lock. So each kind of ingest (alerts,
heartbeat pings, crash reports) has a writer: a request hands its work over
and waits for the commit that holds it, so its 2xx still means "durably
stored", while the database sees one transaction per batch. The writers differ
in what a batch does and how its answers reach the requests; this is what
they share: the thread, the queue, taking a batch, and starting and stopping.

The writer takes a connection of its own (`writer_sessions`: on PostgreSQL an
engine without pre-ping, a round trip a batch saved), closed as it stops.
"""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from tocsin.clock import Clock
from tocsin.storage.db import writer_sessions

W = TypeVar("W")


class GroupCommitWriter(ABC, Generic[W]):
    """One thread, one transaction per batch of at most `max_batch` (`_size` of each work)."""

    thread_name = "tocsin-writer"

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, max_batch: int) -> None:
        self._sessions = writer_sessions(sessions)
        # Its own engine, when it got one: closed as the writer stops.
        self._own_engine = self._sessions.kw["bind"] if self._sessions is not sessions else None
        self._clock = clock
        self._max_batch = max_batch
        self._queue: queue.Queue[W | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        # The app's lifespan can be entered more than once (a test client and a schema fuzzer
        # on one app): one thread, stopped when the last one leaves.
        self._users = 0
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
        self._queue.put(None)  # work already queued is committed before the thread ends
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._own_engine is not None:
            self._own_engine.dispose()  # a later start() connects again

    def _put(self, work: W) -> None:
        self._queue.put(work)

    def _size(self, work: W) -> int:
        """What a work counts towards `max_batch`."""
        return 1

    @abstractmethod
    def _commit(self, batch: list[W]) -> None:
        """Write the batch in one transaction and answer each of its requests, or, when that
        fails, retry them one by one so that one bad request fails only itself."""

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            size = self._size(first)
            stop = False
            while size < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
                size += self._size(more)
            self._commit(batch)
            if stop:
                return
