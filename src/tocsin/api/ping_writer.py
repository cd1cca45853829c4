"""Heartbeat pings committed together: one writer thread per process, one transaction per batch.

A ping is one small write, and a fleet of cron jobs and workers sends thousands
a second. One transaction each spends most of its time waiting for the commit
(the WAL flush) and, on SQLite, for the single write lock. Here a request hands
its ping over and waits for the commit that holds it (`api.group_commit`, as
alerts and crash reports do), so `200 OK` still means "durably stored", while
the database sees one transaction per batch.

A batch that fails is retried ping by ping, so one bad ping (a heartbeat deleted
under it, say) does not fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session, sessionmaker

from tocsin.api.group_commit import GroupCommitWriter
from tocsin.clock import Clock
from tocsin.services import heartbeats

log = structlog.get_logger(__name__)


Outcome = heartbeats.PingResult | None


@dataclass
class _Work:
    heartbeat_uuid: str
    ping: heartbeats.Ping
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[Outcome]


class PingWriter(GroupCommitWriter[_Work]):
    thread_name = "tocsin-pings"

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, max_batch: int = 1000) -> None:
        super().__init__(sessions, clock, max_batch)
        # Called after a commit whose pings declared an incident: the engine pages now.
        self.on_opened: Callable[[], None] | None = None

    async def submit(self, heartbeat_uuid: str, ping: heartbeats.Ping) -> heartbeats.PingResult | None:
        """Once committed: what the ping did, or None for an unknown uuid."""
        if not self.running:
            # Not started (an app used without its lifespan): a transaction of its own.
            return await asyncio.to_thread(self._write_alone, heartbeat_uuid, ping)
        loop = asyncio.get_running_loop()
        work = _Work(heartbeat_uuid, ping, loop, loop.create_future())
        self._put(work)
        return await work.done

    def _commit(self, batch: list[_Work]) -> None:
        try:
            with self._sessions() as session:
                results = heartbeats.record_pings(
                    session, self._clock.now(), [(work.heartbeat_uuid, work.ping) for work in batch]
                )
                session.commit()
        except Exception:
            log.warning("ping batch failed; retrying its pings one by one", pings=len(batch))
            answers: list[Outcome | BaseException] = []
            for work in batch:
                try:
                    answers.append(self._write_alone(work.heartbeat_uuid, work.ping))
                except Exception as exc:
                    log.exception("ping failed")
                    answers.append(exc)
            _answer(batch, answers)
            return
        _answer(batch, list(results))
        if self.on_opened is not None and any(result is not None and result.opened for result in results):
            self.on_opened()

    def _write_alone(self, heartbeat_uuid: str, ping: heartbeats.Ping) -> heartbeats.PingResult | None:
        with self._sessions() as session:
            result = heartbeats.record_ping(session, self._clock.now(), heartbeat_uuid, ping)
            session.commit()
        if result is not None and result.opened and self.on_opened is not None:
            self.on_opened()
        return result


def _answer(batch: Sequence[_Work], answers: Sequence[Outcome | BaseException]) -> None:
    """Hand a batch's answers to the event loops waiting for them: one wake-up of each loop per
    batch (a wake-up is a write to the loop's self-pipe; per ping, it was a fifth of the loop's time)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Outcome], Outcome | BaseException]]] = {}
    for work, answer in zip(batch, answers, strict=True):
        by_loop.setdefault(work.loop, []).append((work.done, answer))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits for these answers any more
            loop.call_soon_threadsafe(_settle, items)


def _settle(items: Sequence[tuple[asyncio.Future[Outcome], Outcome | BaseException]]) -> None:
    for done, answer in items:
        if done.done():
            continue  # its request went away (cancelled); the ping is stored all the same
        if isinstance(answer, BaseException):
            done.set_exception(answer)
        else:
            done.set_result(answer)
