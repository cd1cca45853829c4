"""The machinery behind every ingest endpoint: key lookup, rate limit, group commit.

Many requests' signals are committed together by one writer thread per
process: a request hands its signals over and waits for the commit that holds
them, so a 2xx still means "durably stored", while the database sees one
transaction per batch instead of one per request.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from tocsin.clock import Clock
from tocsin.domain.alerts import Signal
from tocsin.integrations import pagerduty
from tocsin.observability import INGEST_BATCHES, INGEST_SIGNALS
from tocsin.services import alerts, changes
from tocsin.services.ingest_config import SnapshotCache
from tocsin.services.integrations import IntegrationRef, find_by_key, hash_key

log = structlog.get_logger(__name__)


class _Invalidates(Protocol):
    def invalidate(self) -> None: ...


class SignalWriter(Protocol):
    """What the ingest routes need: `IngestWriter` in the process, or
    `ingest_process.RemoteWriter` handing over to the writer process."""

    on_opened: Callable[[], None] | None

    @property
    def config(self) -> _Invalidates: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    async def submit(self, integration: IntegrationRef, signals: Sequence[Signal]) -> list[alerts.Outcome]: ...

    async def record_change(self, integration: IntegrationRef, event: pagerduty.ChangeEvent, body: bytes) -> None: ...


@dataclass
class _Work:
    integration: IntegrationRef
    signals: Sequence[Signal]
    done: Future[list[alerts.Outcome]] = field(default_factory=Future)


class IngestWriter:
    """One thread, one transaction per batch of requests."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, max_batch: int = 2000) -> None:
        self._sessions = sessions
        self._clock = clock
        self._max_batch = max_batch
        self._queue: queue.Queue[_Work | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        # Scheme, rules, windows and services, re-read every few seconds rather than per batch.
        self.config = SnapshotCache()
        # Called after a commit that declared an incident: wakes the engine, so the
        # first page goes out now rather than at the engine's next interval.
        self.on_opened: Callable[[], None] | None = None
        # Called once a batch's futures are all done (the writer process answers its
        # workers once per batch, not once per request).
        self.after_batch: Callable[[], None] | None = None
        # The incident each (service, group) slot joined last; used by the writer thread only.
        self._hints: dict[tuple[int, str], tuple[int, datetime]] = {}
        # The app's lifespan can be entered more than once (a test client and a
        # schema fuzzer on one app): one thread, stopped when the last one leaves.
        self._users = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            self._thread = threading.Thread(target=self._run, name="tocsin-ingest", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
        # Work already queued is committed before the thread ends.
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)

    async def record_change(self, integration: IntegrationRef, event: pagerduty.ChangeEvent, body: bytes) -> None:
        """Change events are rare: committed on their own, off the event loop."""

        def write() -> None:
            details = event.payload.custom_details
            with self._sessions() as session:
                changes.record(
                    session,
                    self._clock.now(),
                    service_id=integration.service_id,
                    integration_id=integration.id,
                    summary=event.payload.summary,
                    source=event.payload.source or "",
                    occurred_at=pagerduty.parse_timestamp(event.payload.timestamp),
                    details=details if isinstance(details, dict) else {"details": details} if details else {},
                    links=[{"href": link.href, "text": link.text} for link in event.links],
                )
                session.commit()

        await run_in_threadpool(write)

    async def submit(self, integration: IntegrationRef, signals: Sequence[Signal]) -> list[alerts.Outcome]:
        return await asyncio.wrap_future(self.enqueue(integration, signals))

    def enqueue(
        self,
        integration: IntegrationRef,
        signals: Sequence[Signal],
        on_done: Callable[[Future[list[alerts.Outcome]]], None] | None = None,
    ) -> Future[list[alerts.Outcome]]:
        """Queue signals for the next batch; the future is done once they are committed.
        `on_done` runs on the writer thread as it is (attached before the work is queued,
        so it cannot miss it), before the batch's `after_batch`."""
        work = _Work(integration, signals)
        if on_done is not None:
            work.done.add_done_callback(on_done)
        self._queue.put(work)
        return work.done

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            size = len(first.signals)
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
                size += len(more.signals)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Work]) -> None:
        now = self._clock.now()
        try:
            with self._sessions() as session:
                items = [(work.integration, work.signals) for work in batch]
                results = alerts.ingest_batch(session, now, items, self.config.get(session, now), self._hints)
                session.commit()
        except Exception:
            # The hints may name an incident this failed batch declared: its id can be
            # reused (SQLite) for another service's incident, so forget them all.
            self._hints.clear()
            # One bad request must not fail its neighbours: retry each on its own.
            log.warning("ingest batch failed; retrying its requests one by one", requests=len(batch))
            for work in batch:
                self._commit_one(work)
            if self.after_batch is not None:
                self.after_batch()
            return
        if len(self._hints) > 10_000:  # one per (service, group key): bounded, not a leak
            self._hints.clear()
        INGEST_BATCHES.inc()
        self._opened([o for outcomes in results for o in outcomes])
        for work, outcomes in zip(batch, results, strict=True):
            INGEST_SIGNALS.inc(len(work.signals))
            work.done.set_result(outcomes)
        if self.after_batch is not None:
            self.after_batch()

    def _commit_one(self, work: _Work) -> None:
        try:
            with self._sessions() as session:
                outcomes = alerts.ingest(session, self._clock.now(), work.integration, work.signals)
                session.commit()
        except Exception as exc:
            log.exception("ingest failed", integration=work.integration.name)
            work.done.set_exception(exc)
            return
        INGEST_SIGNALS.inc(len(work.signals))
        self._opened(outcomes)
        work.done.set_result(outcomes)

    def _opened(self, outcomes: Sequence[alerts.Outcome]) -> None:
        if self.on_opened is not None and any(outcome.opened for outcome in outcomes):
            self.on_opened()


class IntegrationCache:
    """Key → integration for a few seconds, so a storm does not look the key up per request.
    A new or disabled integration takes effect within `ttl` seconds."""

    def __init__(self, sessions: sessionmaker[Session], ttl: float = 5.0) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._entries: dict[str, tuple[float, IntegrationRef | None]] = {}

    async def get(self, key: str) -> IntegrationRef | None:
        digest = hash_key(key)
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        found = await run_in_threadpool(self._load, key)
        if len(self._entries) > 10_000:  # unknown keys must not grow this without bound
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + self._ttl, found)
        return found

    def _load(self, key: str) -> IntegrationRef | None:
        with self._sessions() as session:
            return find_by_key(session, key)


class RateLimiter:
    """A token bucket per integration and process. Over the limit → 429 with Retry-After."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._buckets: dict[int, tuple[float, float]] = {}

    def take(self, integration_id: int, cost: int = 1) -> float:
        """0 when allowed; otherwise the seconds to wait."""
        now = time.monotonic()
        tokens, last = self._buckets.get(integration_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens >= cost:
            self._buckets[integration_id] = (tokens - cost, now)
            return 0.0
        self._buckets[integration_id] = (tokens, now)
        return (cost - tokens) / self._rate
