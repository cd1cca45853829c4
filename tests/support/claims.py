"""Two claimers racing: an engine module run in two threads at once, without the runner's lease."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from tocsin.clock import Clock
from tocsin.engine.runner import Module


def drain_in_two_threads(sessions: sessionmaker[Session], module: Module, clock: Clock) -> int:
    """Run `module` in two threads, each in its own transactions, until both find nothing
    due; how many items they handled together. With the lease out of the way, only the
    module's claims keep the two from handling an item twice."""
    barrier = threading.Barrier(2)
    handled: list[int] = []

    def drain() -> None:
        barrier.wait()
        while True:
            with sessions() as db, db.begin():
                count = module.run(db, clock)
            handled.append(count)
            if count == 0:
                return

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(handled)
