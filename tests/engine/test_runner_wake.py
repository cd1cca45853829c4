"""Waking the engine: a cycle runs at once instead of after the interval."""

from __future__ import annotations

import threading
from collections.abc import Callable

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


class Recording:
    def __init__(self, name: str, runs: list[str], during: Callable[[], None] | None = None) -> None:
        self.name = name
        self.runs = runs
        self.during = during

    def run(self, session: Session, clock: Clock) -> int:
        self.runs.append(self.name)
        if self.during is not None:
            self.during()
        return 1


def test_a_wake_during_a_cycle_pages_before_the_rest_of_the_cycle_runs(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    runs: list[str] = []
    names = ("response_targets", "escalations", "handoffs", "channel_posts", "deliveries")
    modules = [Recording(name, runs) for name in names]
    runner = Runner(sessions, clock, modules, holder="test")

    assert runner.cycle() == dict.fromkeys(names, 1)
    assert runs == list(names)

    # An incident is declared while the response targets run: its page must not wait for the hand-offs.
    runs.clear()
    modules[0].during = runner.wake
    done = runner.cycle()
    assert runs == ["response_targets", "escalations", "deliveries", "handoffs", "channel_posts"]
    assert done == dict.fromkeys(names, 1)

    # Woken during the last module: the next cycle (at once, see run_forever) pages first.
    runs.clear()
    modules[0].during = None
    modules[4].during = runner.wake
    assert runner.cycle() == dict.fromkeys(names, 1)
    modules[4].during = None
    runner.cycle()
    assert runs == [*names, "escalations", "deliveries", "response_targets", "handoffs", "channel_posts"]
