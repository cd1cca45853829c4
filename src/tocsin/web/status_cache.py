"""The status page's cache: rendered pages and JSON, kept per process, thrown away when
the database says the page changed.

A status page is read far more than it changes, and read hardest when something
is wrong (everyone refreshes at once). Each process keeps the bytes it rendered,
keyed by URL, and a *version stamp*: one cheap query (the page's generation,
bumped by every change to its own tables; the newest timeline entry and incident,
which every incident change writes or touches; the linked checks that are down),
plus the clock's minute, so maintenance starting and the uptime bars move on
without a write. The stamp is read at most once per `check_every` seconds
(1 s by default): between two reads every request is answered from memory with
no database work, and a change made by any process, on SQLite or PostgreSQL, is
seen within that second; one committed by this process (the status page's services
count their commits) is seen at once. When the stamp differs, everything is rendered again
on demand.

Every answer carries an ETag (a hash of the bytes), so a reader that sends it
back with If-None-Match gets a 304 without a body.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from tocsin.clock import Clock
from tocsin.services.status_page import local_changes
from tocsin.storage.repositories import status_page as repo

CHECK_EVERY = 1.0


def reading_sessions(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions that only read. On SQLite, Tocsin's sessions begin every transaction with
    BEGIN IMMEDIATE, the one write lock (storage.db): the page's reads would hold it for a
    whole render and make every writer (a page being sent, an update being posted) wait.
    Here they run outside any transaction, as WAL readers, each statement seeing the latest
    commit. On PostgreSQL the sessions are used as they are."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, Engine) or engine.dialect.name != "sqlite":
        return sessions
    reader = create_engine(
        engine.url, connect_args={"timeout": 30, "check_same_thread": False}, json_deserializer=orjson.loads
    )

    @event.listens_for(reader, "connect")
    def _autocommit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no BEGIN at all: plain WAL reads
        dbapi_connection.execute("PRAGMA query_only=ON")

    return sessionmaker(reader, expire_on_commit=False)


MAX_ENTRIES = 512


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    media_type: str
    status_code: int = 200
    etag: str = ""

    @classmethod
    def of(cls, body: bytes, media_type: str, status_code: int = 200) -> Rendered:
        return cls(body, media_type, status_code, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')


Render = Callable[[Session, datetime], Rendered]


class StatusCache:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        check_every: float = CHECK_EVERY,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.check_every = check_every
        self.timer = timer
        self._render_lock = threading.Lock()
        self._stamp: Hashable = None  # what the page looked like at the last look
        self._checked_at = float("-inf")
        self._seen_local = local_changes()
        self._entries: dict[str, Rendered] = {}
        self.renders = 0  # how many times something was rendered (tests and the benchmark read it)

    def peek(self, key: str) -> Rendered | None:
        """The cached answer while the stamp was read less than `check_every` ago; no I/O."""
        if self._stale():
            return None
        return self._entries.get(key)

    def _stale(self) -> bool:
        return self.timer() - self._checked_at >= self.check_every or local_changes() != self._seen_local

    def get(self, key: str, render: Render) -> Rendered:
        """The answer for `key`: from memory if the page has not changed, else rendered now.
        Blocking (database work): call it from a thread, not the event loop.

        One thread at a time reads the stamp or renders; the requests that arrive meanwhile
        wait for it and take its result, instead of all rendering the same page at once
        (a change seen by a busy server would otherwise be rendered by every waiting request)."""
        with self._render_lock:
            found = self.peek(key)
            if found is not None:
                return found
            with self.sessions() as session:
                if self._stale():
                    seen = local_changes()  # before the stamp: a change committed after it is seen next time
                    now = self.clock.now()
                    stamp: Hashable = (repo.version(session), now.replace(second=0, microsecond=0))
                    if stamp != self._stamp:
                        self._entries = {}
                        self._stamp = stamp
                    self._checked_at = self.timer()
                    self._seen_local = seen
                found = self._entries.get(key)
                if found is not None:
                    return found
                rendered = render(session, self.clock.now())
                session.rollback()
            self.renders += 1
            if len(self._entries) >= MAX_ENTRIES:  # history pages beyond reason: start afresh
                self._entries = {}
            self._entries[key] = rendered
            return rendered

    def clear(self) -> None:
        """Forget everything: the next request reads the stamp and renders."""
        with self._render_lock:
            self._entries = {}
            self._checked_at = float("-inf")
