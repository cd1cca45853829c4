"""Engine module: deliver due notifications, with no database transaction open while sending.

    transaction 1   claim a batch (pending and due, or a crashed sender's) → commit
    no transaction  send them through their channels, `workers` at a time, over kept-alive connections
    transaction 2   record the batch's results (sent, retry later, failed + next contact method) → commit

The sends run on an event loop in a thread of the module's own: HTTP channels
(webhooks, Discord, Slack) as coroutines over `channels.Connections`, a few tens
of µs of CPU each; e-mail and Apprise, which block, in a few threads beside it.
The engine's thread only claims and records, so the two overlap.

While a full batch is on the wire, the next one is claimed (its own short
transaction), so the workers never wait for the database; no transaction ever
waits for a send.

A page that waits on a slow webhook must not hold a lock others need (on
SQLite, the only write lock), so this module manages its own transactions
(`runner.SelfManaged`). The claim's deadline outlives the sends: a sender that
dies between the transactions leaves rows in `sending`, and another sender
claims them again once the deadline passes. The receiver can drop such a
repeat by its idempotency key (`X-Tocsin-Delivery`, the e-mail's Message-ID).

A large batch behind a slow far end could outlast that deadline, so no send
starts unless it can finish before it (`send_bound` before the deadline, by
this process's monotonic clock); the rest go back unsent, due at once, their
attempt uncounted. A healthy webhook takes milliseconds, so in practice the
whole batch goes out.

Draining a backlog does not wait for the next engine cycle: batches follow
each other until nothing is due or `budget` seconds have passed, so a burst of
pages is not paced by the engine's interval, and the other modules still get
their turn every cycle.
"""

from __future__ import annotations

import asyncio
import functools
import random
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
import uvloop
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tocsin import channels
from tocsin.channels import posting
from tocsin.channels.connections import Connections
from tocsin.channels.email import Security, SmtpSettings
from tocsin.channels.message import Message, MessageKind
from tocsin.channels.result import DeliveryResult, Outcome
from tocsin.clock import Clock
from tocsin.config import Settings
from tocsin.services import notifications
from tocsin.services.notifications import Attempt, Claimed

log = structlog.get_logger(__name__)

# A batch's results are recorded again after a lost race for a lock (a PostgreSQL
# deadlock with an acknowledgement canceling the same rows, SQLite's busy timeout):
# recording is guarded by the attempt number, so doing it twice changes nothing.
_RECORD_TRIES = 3

_T = TypeVar("_T")


def smtp_settings(settings: Settings) -> SmtpSettings | None:
    if not settings.smtp_host:
        return None
    return SmtpSettings(
        host=settings.smtp_host,
        from_address=settings.smtp_from,
        port=settings.smtp_port,
        security=Security(settings.smtp_security),
        username=settings.smtp_user,
        password=settings.smtp_password,
    )


@dataclass(frozen=True)
class _Flight:
    """A claimed batch whose sends are under way: `results` come in the order of `claimed`."""

    claimed: list[Claimed]
    results: Future[list[DeliveryResult | None]]


class _Sender:
    """Where the module's sends run: an event loop on a thread of its own, started on first
    use and kept between runs (so are its connections), with `workers` sends in flight at
    once, and threads for the channels that block. `close()` stops it all; the next
    `submit` starts afresh."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._fresh()

    def _fresh(self) -> None:
        # A semaphore and open connections belong to the loop that first used them.
        self.connections = Connections(per_host=self.workers, tls=posting.tls_context)
        self.slots = asyncio.Semaphore(self.workers)
        self.blocking = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="delivery")

    def submit(self, work: Callable[[], Coroutine[Any, Any, _T]]) -> Future[_T]:
        """Run `work()` on the loop; thread-safe."""
        with self._lock:
            if self._loop is None:
                self._loop = uvloop.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="delivery-loop", daemon=True)
                self._thread.start()
            return asyncio.run_coroutine_threadsafe(work(), self._loop)

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
            connections, blocking = self.connections, self.blocking
            self._fresh()
        blocking.shutdown(wait=False)
        if loop is not None and thread is not None:
            asyncio.run_coroutine_threadsafe(connections.aclose(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()


class Deliveries:
    name = "deliveries"

    def __init__(
        self,
        smtp: SmtpSettings | None = None,
        *,
        batch: int = 500,
        workers: int = 8,
        lease: timedelta = timedelta(minutes=2),
        timeout: float = 10.0,
        budget: float = 2.0,
        rng: random.Random | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        # One send waits at most `timeout` to connect, to write and to read: three of them
        # bound it. Sends start only while that much is left before the claim's deadline.
        self.send_bound = 3 * timeout
        if lease.total_seconds() <= self.send_bound:
            raise ValueError(f"lease: must outlast one send ({self.send_bound:g} s), not {lease}")
        # A claim reads every row's payload and locks them all: past a thousand, a batch only
        # holds rows back from other senders.
        self.batch = max(1, min(batch, 1000))
        self.smtp = smtp
        self.workers = workers
        self.lease = lease
        self.timeout = timeout
        self.budget = budget
        self.rng = rng or random.Random()
        self.timer = timer
        # Kept between runs so connections to each host stay open; the finalizer closes them
        # when the module goes away (at the latest when the process exits).
        self.sender = _Sender(workers)
        weakref.finalize(self, self.sender.close)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Deliveries:
        return cls(smtp_settings(settings), **options)

    def run_with(self, sessions: sessionmaker[Session], clock: Clock) -> int:
        started = self.timer()
        handled = 0
        flight = self._claim_and_send(sessions, clock)
        while flight is not None:
            # While this batch is on the wire, claim the next one (its rows are others than
            # these, which are `sending`), so the sends never wait for the database.
            more = len(flight.claimed) == self.batch and self.timer() - started < self.budget
            following = self._claim_and_send(sessions, clock) if more else None
            # The results are all in before the recording transaction opens.
            results = flight.results.result()
            handled += self._record(sessions, clock.now(), flight.claimed, results)
            flight = following
        return handled

    def _claim_and_send(self, sessions: sessionmaker[Session], clock: Clock) -> _Flight | None:
        """Claim a batch and commit, then start its sends; None when nothing is due."""
        claimed_at = self.timer()
        with sessions() as session, session.begin():
            claimed = notifications.claim_due(session, clock.now(), self.batch, self.lease)
        if not claimed:
            return None
        send_by = claimed_at + self.lease.total_seconds() - self.send_bound
        results = self.sender.submit(functools.partial(self._send_all, claimed, clock, send_by))
        return _Flight(claimed, results)

    def close(self) -> None:
        """Close the kept-alive connections (the module opens new ones if it runs again)."""
        self.sender.close()

    async def _send_all(self, claimed: list[Claimed], clock: Clock, send_by: float) -> list[DeliveryResult | None]:
        return await asyncio.gather(*(self._send_one(item, clock, send_by) for item in claimed))

    async def _send_one(self, item: Claimed, clock: Clock, send_by: float) -> DeliveryResult | None:
        """One attempt, or None when it could not finish before the claim's deadline."""
        async with self.sender.slots:
            if self.timer() > send_by:
                return None
            now = clock.now()
            try:
                message = message_for(item)
            except ValueError as exc:
                return DeliveryResult.permanent(f"the notification cannot be rendered: {exc}")
            if item.channel in channels.HTTP_KINDS:
                return await channels.send_async(
                    item.channel,
                    item.address,
                    message,
                    connections=self.sender.connections,
                    secret=item.secret,
                    timeout=self.timeout,
                    now=now,
                )
            send = functools.partial(
                channels.send,
                item.channel,
                item.address,
                message,
                secret=item.secret,
                timeout=self.timeout,
                smtp=self.smtp,
                now=now,
            )
            return await asyncio.get_running_loop().run_in_executor(self.sender.blocking, send)

    def _record(
        self,
        sessions: sessionmaker[Session],
        now: datetime,
        claimed: Sequence[Claimed],
        results: Sequence[DeliveryResult | None],
    ) -> int:
        """Record the batch in one transaction; returns how many attempts were made."""
        attempts = [self._attempt(item, result, now) for item, result in zip(claimed, results, strict=True)]
        batch = [(item.id, item.attempts, attempt) for item, attempt in zip(claimed, attempts, strict=True)]
        for tries in range(1, _RECORD_TRIES + 1):
            try:
                with sessions() as session, session.begin():
                    statuses = notifications.record_all(session, now, batch)
                break
            except OperationalError:
                if tries == _RECORD_TRIES:
                    raise  # the rows stay `sending` until their deadline, then are sent again
                log.warning("notification_results_retried", tries=tries, count=len(batch))
        made = 0
        for item, result, status in zip(claimed, results, statuses, strict=True):
            if result is None:
                continue
            made += 1
            log.info(
                "notification_attempt",
                notification=item.id,
                channel=item.channel,
                attempt=item.attempts,
                outcome=result.outcome.value,
                status=status,
                error=result.error,
            )
        if made < len(claimed):
            log.warning("notifications_put_back", count=len(claimed) - made, reason="the claim's deadline was near")
        return made

    def _attempt(self, item: Claimed, result: DeliveryResult | None, now: datetime) -> Attempt:
        if result is None:
            return Attempt("unsent")
        retry_at = None
        if result.outcome is Outcome.RETRY:
            retry_at = now + channels.backoff(item.attempts, result.retry_after, self.rng)
        return Attempt(result.outcome.value, result.error, retry_at)


def message_for(item: Claimed) -> Message:
    """The channel-neutral message for a claimed row; ValueError when its payload cannot be one.

    A team channel's post (`kind` "post") says what it is about in the payload's
    `message_kind` ("resolved", "acknowledged" …), so it reads and is coloured
    like the matching page; without one it is a plain post.
    """
    payload = item.payload
    if item.kind == "post":
        kind = MessageKind(payload.get("message_kind") or MessageKind.POST)
    else:
        kind = MessageKind(item.kind)
    fields = [(str(pair[0]), str(pair[1])) for pair in payload.get("fields") or []]
    return Message(
        kind=kind,
        title=str(payload.get("title") or "Tocsin notification"),
        idempotency_key=item.idempotency_key,
        text=str(payload.get("text") or ""),
        severity=payload.get("severity"),
        severity_rank=payload.get("severity_rank"),
        incident=payload.get("incident"),
        url=payload.get("url"),
        ack_url=payload.get("ack_url"),
        fields=fields,
        mention=item.mention if item.channel in ("discord", "slack") else None,
    )
