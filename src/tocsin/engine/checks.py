"""The check scheduler: runs each check at its slot, in its own asyncio loop and thread.

The engine cycle (every TOCSIN_ENGINE_INTERVAL, 5 s) is too coarse for a check
to start within a second of its slot, so checks have their own loop, started
next to the engine. Every half second it claims the slots due within the next
two seconds (`services.checks.claim_due`: a lease in the row, so with several
processes each slot is claimed by one, and a crashed process's slot is taken
by another once its lease lapses), waits for each slot, and runs its probe
under a semaphore (TOCSIN_CHECK_CONCURRENCY). Results are written in batches,
one transaction for many checks, in a worker thread: the loop never waits on
the database while probes are due.

A failure first asks the connectivity self-check (TOCSIN_CHECK_CONNECTIVITY,
host:port pairs that should always accept a TCP connection; the verdict is
cached for ten seconds): when none answers, Tocsin has lost the network, and
the failure is recorded as `held` — no check goes down and nobody is paged
for everything at once. Only a network Tocsin has had can be lost: targets
that have never answered since the process started (the public defaults on
a network without Internet access) say nothing, and failures count. Holding
every failure of an install that cannot reach them would page nobody, ever.

`run_due()` is one pass for tests: claim what is due now, run it, write it.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
import uvloop
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.orm import Session, sessionmaker

from tocsin.clock import Clock
from tocsin.domain import checks as domain
from tocsin.engine.probes import Prober, reachable
from tocsin.services import checks

log = structlog.get_logger(__name__)

CHECK_RUNS = Counter("tocsin_check_runs_total", "Check runs", ["result"])
CHECK_LATENESS = Histogram(
    "tocsin_check_lateness_seconds",
    "How long after its slot a check's probe started",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
IDLE_CLAIM_S = 5.0
CONNECTED = Gauge("tocsin_check_connectivity", "1 while the connectivity self-check answers, 0 while it does not")


def _targets(text: str) -> tuple[tuple[str, int], ...]:
    if text.strip().lower() in ("", "off", "none"):
        return ()
    found = []
    for part in text.split(","):
        parsed = domain.split_host_port(part, 53)
        if parsed is None:
            raise ValueError(f"TOCSIN_CHECK_CONNECTIVITY: {part.strip()!r} is not host:port")
        found.append(parsed)
    return tuple(found)


@dataclass(frozen=True)
class CheckSettings:
    concurrency: int = 500
    # Public resolvers answer TCP on 53 from nearly anywhere; "off" turns the self-check off.
    connectivity: tuple[tuple[str, int], ...] = (("1.1.1.1", 53), ("8.8.8.8", 53))
    retention: timedelta = checks.DEFAULT_RETENTION
    horizon: timedelta = timedelta(seconds=2)
    claim_every_s: float = 0.5
    write_every_s: float = 0.5
    lease_for_s: float = 30.0
    enabled: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CheckSettings:
        env = os.environ if env is None else env
        defaults = cls()
        connectivity = env.get("TOCSIN_CHECK_CONNECTIVITY")
        retention = env.get("TOCSIN_CHECK_RETENTION_DAYS")
        return cls(
            concurrency=int(env.get("TOCSIN_CHECK_CONCURRENCY", defaults.concurrency)),
            connectivity=_targets(connectivity) if connectivity is not None else defaults.connectivity,
            retention=timedelta(days=float(retention)) if retention else defaults.retention,
            enabled=env.get("TOCSIN_CHECKS", "on") != "off",
        )


class Connectivity:
    """Whether Tocsin can reach the network: any one target that accepts a connection says yes,
    and so does a set of targets that has never answered (module docstring)."""

    def __init__(self, targets: tuple[tuple[str, int], ...], cache_s: float = 10.0, timeout_s: float = 2.0) -> None:
        self.targets = targets
        self.cache_s = cache_s
        self.timeout_s = timeout_s
        self._verdict: bool | None = None
        self._at = 0.0
        self._lock: asyncio.Lock | None = None
        self._answered: bool | None = None  # what the targets said last
        self._ever_answered = False

    async def connected(self) -> bool:
        if not self.targets:
            return True
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one self-check at a time: a hundred failures ask once
            if self._verdict is not None and time.monotonic() - self._at < self.cache_s:
                return self._verdict
            answers = await asyncio.gather(*(reachable(h, p, self.timeout_s) for h, p in self.targets))
            answered = any(answers)
            if answered != self._answered:
                if answered and self._ever_answered:
                    log.warning("tocsin regained connectivity", targets=self._shown())
                elif self._ever_answered:
                    log.error("tocsin lost connectivity: check failures are held", targets=self._shown())
                elif not answered:
                    log.warning(
                        "connectivity targets have never answered: check failures count "
                        "(set TOCSIN_CHECK_CONNECTIVITY to hosts on this network, or off)",
                        targets=self._shown(),
                    )
            self._ever_answered = self._ever_answered or answered
            CONNECTED.set(1 if answered else 0)
            self._answered, self._at = answered, time.monotonic()
            self._verdict = answered or not self._ever_answered
            return self._verdict

    @property
    def ever_answered(self) -> bool:
        return self._ever_answered

    def _shown(self) -> list[str]:
        return [f"{h}:{p}" for h, p in self.targets]


@dataclass
class Scheduler:
    sessions: sessionmaker[Session]
    clock: Clock
    holder: str
    settings: CheckSettings = field(default_factory=CheckSettings)
    on_opened: Callable[[], None] | None = None
    # Called with (slot, started) for every scheduled run: lateness, for whoever embeds the scheduler.
    on_run: Callable[[datetime, datetime], None] | None = None
    prober: Prober = field(default_factory=Prober)
    connectivity: Connectivity | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _pending: list[checks.RunResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.connectivity is None:
            self.connectivity = Connectivity(self.settings.connectivity)
        self._semaphore: asyncio.Semaphore | None = None

    # ---- one pass, for tests ----

    async def run_due(self) -> int:
        """Claim the slots due now, run them all, write their results; how many ran."""
        claimed = await asyncio.to_thread(self._claim, timedelta(0))
        await asyncio.gather(*(self._run(slot, wait=False) for slot in claimed))
        await self._flush()
        return len(claimed)

    def run_once(self) -> int:
        async def once() -> int:
            try:
                return await self.run_due()
            finally:
                await self.prober.close()

        return asyncio.run(once())

    # ---- the loop ----

    def run_forever(self) -> None:
        log.info("check scheduler started", holder=self.holder, concurrency=self.settings.concurrency)
        uvloop.run(self._main())
        log.info("check scheduler stopped", holder=self.holder)

    def stop(self) -> None:
        self._stop.set()

    async def _main(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        if self.connectivity is not None:
            # Learn now whether the targets answer on this network: only a network Tocsin has had
            # can be lost (module docstring), and the first failure may come with the loss itself.
            learn = asyncio.create_task(self._learn_connectivity(self.connectivity))
            tasks.add(learn)
            learn.add_done_callback(tasks.discard)
        next_claim = next_write = 0.0
        try:
            while not self._stop.is_set():
                tick = time.monotonic()
                if tick >= next_claim:
                    try:
                        claimed, due = await asyncio.to_thread(self._claim_and_peek, self.settings.horizon)
                    except Exception:  # a database outage must not end the loop
                        log.exception("claiming check slots failed")
                        claimed, due = [], None
                    next_claim = tick + self._until_next_claim(due)
                    for slot in claimed:
                        task = asyncio.create_task(self._run(slot, wait=True))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                if tick >= next_write and self._pending:
                    next_write = tick + self.settings.write_every_s
                    await self._flush()
                await asyncio.sleep(0.05)
        finally:
            for task in tasks:
                task.cancel()  # their claims lapse; another process runs those slots
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._flush()
            await self.prober.close()

    async def _learn_connectivity(self, connectivity: Connectivity) -> None:
        await connectivity.connected()

    def _claim(self, horizon: timedelta) -> list[checks.Claimed]:
        return self._claim_and_peek(horizon)[0]

    def _claim_and_peek(self, horizon: timedelta) -> tuple[list[checks.Claimed], datetime | None]:
        """The slots claimed, and the earliest slot still unclaimed after them."""
        with self.sessions() as session, session.begin():
            now = self.clock.now()
            claimed = checks.claim_due(session, now, horizon, self.holder, self.settings.lease_for_s, limit=5000)
            return claimed, checks.earliest_due(session, now)

    def _until_next_claim(self, due: datetime | None) -> float:
        """Seconds to the next claim: at the claim interval while slots are coming, and no
        more often than every IDLE_CLAIM_S with nothing due soon (on SQLite every claim
        takes the write lock). A check made meanwhile waits at most that long for its first run."""
        if due is None:
            return IDLE_CLAIM_S
        ahead = (due - self.clock.now() - self.settings.horizon).total_seconds()
        return min(IDLE_CLAIM_S, max(self.settings.claim_every_s, ahead))

    async def _run(self, claimed: checks.Claimed, *, wait: bool) -> None:
        if wait:
            delay = (claimed.slot - self.clock.now()).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        async with self._semaphore:
            result = await probe_once(
                self.prober, self.clock, claimed.spec, claimed.timeout_s, claimed.check_id, claimed.slot,
                self.connectivity, self.on_run,
            )  # fmt: skip
        self._pending.append(result)

    async def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            opened = await asyncio.to_thread(self._write, batch)
        except Exception:
            # Not lost for good: the slots' claims lapse and are run again by whoever claims them.
            log.exception("writing check results failed", results=len(batch))
            return
        if opened and self.on_opened is not None:
            self.on_opened()

    def _write(self, batch: list[checks.RunResult]) -> bool:
        with self.sessions() as session, session.begin():
            return checks.record_results(session, self.clock.now(), batch, self.holder).opened


async def probe_once(
    prober: Prober,
    clock: Clock,
    spec: domain.Spec,
    timeout_s: float,
    check_id: int,
    slot: datetime | None,
    connectivity: Connectivity | None,
    on_run: Callable[[datetime, datetime], None] | None = None,
) -> checks.RunResult:
    """Run one probe and judge it; a failure while the network is gone is held."""
    started = clock.now()
    if slot is not None:
        CHECK_LATENESS.observe(max(0.0, (started - slot).total_seconds()))
        if on_run is not None:
            on_run(slot, started)
    seen = await prober.probe(spec, timeout_s)
    verdict = domain.evaluate(spec, seen, clock.now())
    held = False
    if not verdict.up and connectivity is not None:
        held = domain.held(verdict, await connectivity.connected())
    CHECK_RUNS.labels(result="held" if held else "up" if verdict.up else "down").inc()
    response_ms = seen.elapsed_ms if seen.error is None else None
    return checks.RunResult(check_id, slot, started, verdict, response_ms, held)


class CheckRetention:
    """Engine module: raw results past the retention, rollups past 90 days."""

    name = "check_retention"

    def __init__(self, retention: timedelta = checks.DEFAULT_RETENTION) -> None:
        self.retention = retention

    def run(self, session: Session, clock: Clock) -> int:
        return checks.prune(session, clock.now(), self.retention)
