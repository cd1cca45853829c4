"""The processing cycle: each module runs under its own lease, in its own transaction.

Modules follow GoAlert's engine: a busy lease is skipped, not waited on, so a
slow module in one process never stalls the others; the lease has a deadline,
so a crashed process's module is picked up by another once it expires. The
lease only reduces contention: correctness comes from each module claiming
its rows atomically, which is what makes two processes safe.

A cycle takes the leases of all its modules in one transaction at its start
and gives them back in one at its end: two write transactions a cycle, not two
per module (each one a WAL flush on PostgreSQL, and a wait for the one write
lock on SQLite, behind the ingest writer, on the way to every page).

Most modules run inside one transaction the runner opens (`Module`). A module
that talks to the network must not hold a transaction while it waits, so it
manages its own short ones (`SelfManaged`: claim and commit, send, record and
commit); the runner still holds its lease around the whole run.

`wake()` says that a page is due now (an incident was just declared). The
runner does not finish its cycle first: before its next module it runs the
paging modules (`PAGING`: escalations, then deliveries), then goes on with
the rest, so the first page waits for at most the module running when the
wake came, not for a whole cycle and the interval after it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, runtime_checkable

import structlog
from sqlalchemy.orm import Session, sessionmaker

from tocsin.clock import Clock
from tocsin.observability import ENGINE_CYCLES, ENGINE_ERRORS, ENGINE_WORK
from tocsin.storage.repositories import leases

log = structlog.get_logger(__name__)

# What a wake runs first, in this order: the step that makes a new incident's first pages, and
# the module that sends them.
PAGING = ("escalations", "deliveries")


class Module(Protocol):
    name: str

    def run(self, session: Session, clock: Clock) -> int:
        """Do the work that is due; return how many items were handled. Flush, don't commit."""
        ...


@runtime_checkable
class SelfManaged(Protocol):
    name: str

    def run_with(self, sessions: sessionmaker[Session], clock: Clock) -> int:
        """Do the work that is due in transactions of its own; return how many items were handled."""
        ...


@dataclass
class Runner:
    sessions: sessionmaker[Session]
    clock: Clock
    modules: Sequence[Module | SelfManaged]
    holder: str
    lease_for: timedelta = timedelta(seconds=60)
    _stop: threading.Event = field(default_factory=threading.Event)
    # Set by `wake`: new work is due now (an incident was just declared), so the
    # loop does not sleep out its interval, nor finish its cycle, before paging for it.
    _wake: threading.Event = field(default_factory=threading.Event)

    def cycle(self) -> dict[str, int | None]:
        """Run every module once, and the paging modules again first whenever a wake comes in
        between two modules. Returns work done per module (added up over a module's runs);
        None for a module that was skipped (busy) every time."""
        done: dict[str, int | None] = {}
        paging = [module for name in PAGING for module in self.modules if module.name == name]
        waiting = list(self.modules)
        now = self.clock.now()
        with self.sessions() as session, session.begin():
            held = leases.try_acquire_many(
                session, [module.name for module in self.modules], self.holder, now, now + self.lease_for
            )
        try:
            while waiting:
                if self._wake.is_set() and not self._stop.is_set():
                    self._wake.clear()
                    for module in paging:
                        _add(done, module.name, self._run_module(module, held))
                        if module in waiting:
                            waiting.remove(module)  # ran just now: once is enough for this cycle
                    continue
                module = waiting.pop(0)
                _add(done, module.name, self._run_module(module, held))
        finally:
            with self.sessions() as session, session.begin():
                leases.release_many(session, held, self.holder)
        ENGINE_CYCLES.inc()
        return done

    def _run_module(self, module: Module | SelfManaged, held: set[str]) -> int | None:
        if module.name not in held:
            return None  # another process holds its lease: skipped, not waited for
        try:
            if isinstance(module, SelfManaged):
                count = module.run_with(self.sessions, self.clock)
            else:
                with self.sessions() as session, session.begin():
                    count = module.run(session, self.clock)
            ENGINE_WORK.labels(module=module.name).inc(count)
            return count
        except Exception:
            ENGINE_ERRORS.labels(module=module.name).inc()
            log.exception("engine module failed", module=module.name)
            return 0

    def run_forever(self, interval_s: float) -> None:
        log.info("engine started", holder=self.holder, modules=[m.name for m in self.modules])
        # The process's start-up heap is frozen by tocsin.app.tune_gc, for the HTTP side too.
        while not self._stop.is_set():
            try:
                self.cycle()
            except Exception:  # a database outage must not kill the engine thread
                log.exception("engine cycle failed")
            # A wake that came during the cycle's last module ends this wait at once.
            self._wake.wait(interval_s)
        log.info("engine stopped", holder=self.holder)

    def wake(self) -> None:
        """Page now: the paging modules run before the next module of a cycle in progress,
        or at once in a new cycle instead of after the interval. Safe from any thread."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


def _add(done: dict[str, int | None], name: str, count: int | None) -> None:
    if count is not None:
        done[name] = (done.get(name) or 0) + count
    else:
        done.setdefault(name, None)
