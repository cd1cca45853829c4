"""The machinery behind every ingest endpoint: key lookup, rate limit, group commit.

Many requests' signals are committed together by one writer thread per
process: a request hands its signals over and waits for the commit that holds
them, so a 2xx still means "durably stored", while the database sees one
transaction per batch instead of one per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from tocsin.api.group_commit import GroupCommitWriter
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


# New alerts a process writes before it first refreshes the planner's statistics.
STATISTICS_AFTER = 1000


class IngestWriter(GroupCommitWriter[_Work]):
    """One thread, one transaction per batch of requests (`api.group_commit`); a batch holds
    up to `max_batch` alerts."""

    thread_name = "tocsin-ingest"

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, max_batch: int = 2000) -> None:
        super().__init__(sessions, clock, max_batch)
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
        # The incidents it marked changed, and when (timeline.add_many); writer thread only.
        self._touched: dict[int, datetime] = {}
        # Alerts this writer created, and how many more make it refresh the statistics.
        self._created = 0
        self._statistics_at = STATISTICS_AFTER

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
        self._put(work)
        return work.done

    def _size(self, work: _Work) -> int:
        return len(work.signals)

    def _commit(self, batch: list[_Work]) -> None:
        now = self._clock.now()
        try:
            with self._sessions() as session:
                items = [(work.integration, work.signals) for work in batch]
                config = self.config.get(session, now)
                results = alerts.ingest_batch(session, now, items, config, self._hints, self._touched)
                session.commit()
        except Exception:
            # The hints may name an incident this failed batch declared: its id can be
            # reused (SQLite) for another service's incident, so forget them all.
            self._hints.clear()
            self._touched.clear()  # the marks of a rolled-back batch never happened
            # One bad request must not fail its neighbours: retry each on its own.
            log.warning("ingest batch failed; retrying its requests one by one", requests=len(batch))
            for work in batch:
                self._commit_one(work)
            if self.after_batch is not None:
                self.after_batch()
            return
        if len(self._hints) > 10_000:  # one per (service, group key): bounded, not a leak
            self._hints.clear()
        if len(self._touched) > 10_000:
            self._touched.clear()
        INGEST_BATCHES.inc()
        flat = [o for outcomes in results for o in outcomes]
        self._count_created(flat)
        self._opened(flat)
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

    def _count_created(self, outcomes: Sequence[alerts.Outcome]) -> None:
        """Refresh the planner's statistics each time the alerts this process wrote
        grew tenfold: after 1,000, 10,000, 100,000 … (refresh_statistics in
        storage.repositories.alerts says why). A storm on a new install does not wait
        a minute for autovacuum's first ANALYZE, nor run on plans made when the table
        was a hundredth of its size; a process pays a handful of bounded ANALYZEs."""
        self._created += sum(1 for o in outcomes if o.result == alerts.Result.CREATED)
        if self._created < self._statistics_at:
            return
        self._statistics_at *= 10
        try:
            with self._sessions() as session:
                alerts.refresh_statistics(session)
                session.commit()
        except Exception:
            log.warning("refreshing the planner's statistics failed", exc_info=True)

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
        # One lookup per key at a time. When an entry expired under load, every request
        # in flight missed at once: tens of lookups in threads, the pool grew new
        # connections for them, and the writer waited behind them.
        self._loading: dict[str, asyncio.Task[IntegrationRef | None]] = {}

    async def get(self, key: str) -> IntegrationRef | None:
        digest = hash_key(key)
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        loading = self._loading.get(digest)
        if loading is None:
            loading = self._loading[digest] = asyncio.ensure_future(self._refresh(key, digest))
        # Shielded: a request that goes away must not cancel the lookup the others wait for.
        return await asyncio.shield(loading)

    async def _refresh(self, key: str, digest: str) -> IntegrationRef | None:
        try:
            found = await run_in_threadpool(self._load, key)
        finally:
            del self._loading[digest]
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
