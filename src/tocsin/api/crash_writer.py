"""The crash writer: many requests' crash reports committed in one transaction.

A group-commit writer (`tocsin.api.group_commit`), as alerts and pings have: one
thread per process takes what the envelope requests hand over and commits them
together: a request waits
for the commit that holds its report, so its 200 still means "durably stored",
while the database sees one transaction per batch instead of one per envelope
(a thread pool of writers on SQLite mostly waited for each other's lock).
A batch that fails is retried request by request, so one bad report fails
only its own request. The request wakes the engine when its report declared an
incident, as the other ingest routes do.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from dataclasses import dataclass, field

import structlog
from sqlalchemy.orm import Session, sessionmaker

from tocsin.api.group_commit import GroupCommitWriter
from tocsin.clock import Clock
from tocsin.services import crashes

log = structlog.get_logger(__name__)


@dataclass
class _Work:
    report: crashes.Report
    done: Future[crashes.Received] = field(default_factory=Future)


class CrashWriter(GroupCommitWriter[_Work]):
    thread_name = "tocsin-crashes"

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, max_batch: int = 500) -> None:
        super().__init__(sessions, clock, max_batch)

    async def submit(self, report: crashes.Report) -> crashes.Received:
        work = _Work(report)
        self._put(work)
        return await asyncio.wrap_future(work.done)

    def _commit(self, batch: list[_Work]) -> None:
        try:
            with self._sessions() as session:
                results = crashes.receive_batch(session, self._clock.now(), [work.report for work in batch])
                session.commit()
        except Exception:
            log.warning("crash batch failed; retrying its requests one by one", requests=len(batch))
            for work in batch:
                self._commit_one(work)
            return
        for work, result in zip(batch, results, strict=True):
            work.done.set_result(result)

    def _commit_one(self, work: _Work) -> None:
        try:
            with self._sessions() as session:
                (result,) = crashes.receive_batch(session, self._clock.now(), [work.report])
                session.commit()
        except Exception as exc:
            log.exception("crash report failed", integration=work.report.integration.name)
            work.done.set_exception(exc)
            return
        work.done.set_result(result)
