"""The processing cycle: each module runs under its own lease, in its own transaction.

Modules follow GoAlert's engine: a busy lease is skipped, not waited on, so a
slow module in one process never stalls the others; the lease has a deadline,
so a crashed process's module is picked up by another once it expires. The
lease only reduces contention: correctness comes from each module claiming
its rows atomically, which is what makes two processes safe.

Most modules run inside one transaction the runner opens (`Module`). A module
that talks to the network must not hold a transaction while it waits, so it
manages its own short ones (`SelfManaged`: claim and commit, send, record and
commit); the runner still holds its lease around the whole run.
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
    # loop does not sleep out its interval before paging for it.
    _wake: threading.Event = field(default_factory=threading.Event)

    def cycle(self) -> dict[str, int | None]:
        """Run every module once. Returns work done per module; None for a skipped (busy) module."""
        done: dict[str, int | None] = {}
        for module in self.modules:
            done[module.name] = self._run_module(module)
        ENGINE_CYCLES.inc()
        return done

    def _run_module(self, module: Module | SelfManaged) -> int | None:
        now = self.clock.now()
        with self.sessions() as session, session.begin():
            if not leases.try_acquire(session, module.name, self.holder, now, now + self.lease_for):
                return None
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
        finally:
            with self.sessions() as session, session.begin():
                leases.release(session, module.name, self.holder)

    def run_forever(self, interval_s: float) -> None:
        log.info("engine started", holder=self.holder, modules=[m.name for m in self.modules])
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.cycle()
            except Exception:  # a database outage must not kill the engine thread
                log.exception("engine cycle failed")
            self._wake.wait(interval_s)
        log.info("engine stopped", holder=self.holder)

    def wake(self) -> None:
        """Run the next cycle now rather than after the interval; safe from any thread.
        A wake during a cycle runs one more cycle right after it."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
