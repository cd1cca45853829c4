"""Waking the engine: a cycle runs at once instead of after the interval."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from tocsin.clock import Clock, FrozenClock
from tocsin.engine.runner import Runner

# Far longer than the test may take: a second cycle can only come from `wake`.
INTERVAL_S = 3600.0


class Counting:
    name = "counting"

    def __init__(self) -> None:
        self.cycles: list[threading.Event] = [threading.Event() for _ in range(3)]
        self.runs = 0

    def run(self, session: Session, clock: Clock) -> int:
        if self.runs < len(self.cycles):
            self.cycles[self.runs].set()
        self.runs += 1
        return 0


def test_wake_runs_the_next_cycle_now_and_stop_ends_the_wait(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    module = Counting()
    runner = Runner(sessions, clock, [module], holder="test")
    thread = threading.Thread(target=runner.run_forever, args=(INTERVAL_S,), daemon=True)
    thread.start()
    try:
        assert module.cycles[0].wait(10), "the first cycle runs at start"
        assert not module.cycles[1].is_set()
        runner.wake()
        assert module.cycles[1].wait(10), "woken: the second cycle did not wait out the interval"
    finally:
        runner.stop()
        thread.join(10)
    assert not thread.is_alive(), "stop ends the interval's wait too"
    assert module.runs == 2
