"""GitHub deliveries, CI workflows and their runs, development events.

A delivery is claimed by inserting its id (`INSERT … ON CONFLICT DO NOTHING`):
the insert that adds no row is a redelivery, and on PostgreSQL a concurrent
second one waits on the unique index until the first commits. A workflow's row
is locked (`FOR UPDATE` on PostgreSQL; SQLite writers take turns) while one of
its runs is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tocsin.storage.models import CiRun, CiWorkflow, DevEvent, GithubDelivery


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def claim_delivery(session: Session, integration_id: int, delivery_id: str, event: str, now: datetime) -> bool:
    """Whether this is the first time the integration sees the delivery."""
    claimed = session.execute(
        _insert(session)(GithubDelivery)
        .values(integration_id=integration_id, delivery_id=delivery_id, event=event[:50], received_at=now)
        .on_conflict_do_nothing(index_elements=[GithubDelivery.integration_id, GithubDelivery.delivery_id])
        .returning(GithubDelivery.id)
    ).first()
    return claimed is not None


def prune_deliveries(session: Session, before: datetime) -> None:
    session.execute(delete(GithubDelivery).where(GithubDelivery.received_at < before))


def locked_workflow(
    session: Session, integration_id: int, repository: str, workflow: str, branch: str, now: datetime
) -> CiWorkflow:
    """The workflow's row, made on its first run, locked until the transaction ends."""
    key = {"integration_id": integration_id, "repository": repository, "workflow": workflow, "branch": branch}
    session.execute(
        _insert(session)(CiWorkflow)
        .values(**key, alerting=False, last_run_at=now)
        .on_conflict_do_nothing(
            index_elements=[CiWorkflow.integration_id, CiWorkflow.repository, CiWorkflow.workflow, CiWorkflow.branch]
        )
    )
    query = select(CiWorkflow).filter_by(**key).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).one()


def add_run(
    session: Session, workflow_id: int, run_key: str, conclusion: str, failed: bool, url: str, at: datetime
) -> bool:
    """Whether the run is new (a run heard of twice, under two delivery ids, counts once)."""
    added = session.execute(
        _insert(session)(CiRun)
        .values(workflow_id=workflow_id, run_key=run_key, conclusion=conclusion, failed=failed, url=url, at=at)
        .on_conflict_do_nothing(index_elements=[CiRun.workflow_id, CiRun.run_key])
        .returning(CiRun.id)
    ).first()
    return added is not None


def recent_runs(session: Session, workflow_id: int, limit: int) -> Sequence[CiRun]:
    """Newest first, by when they were heard of."""
    return session.scalars(
        select(CiRun).where(CiRun.workflow_id == workflow_id).order_by(CiRun.at.desc(), CiRun.id.desc()).limit(limit)
    ).all()


def recent_failures(session: Session, workflow_id: int, limit: int) -> Sequence[CiRun]:
    return session.scalars(
        select(CiRun)
        .where(CiRun.workflow_id == workflow_id, CiRun.failed.is_(True))
        .order_by(CiRun.at.desc(), CiRun.id.desc())
        .limit(limit)
    ).all()


def prune_runs(session: Session, workflow_id: int, keep: Sequence[int]) -> None:
    session.execute(delete(CiRun).where(CiRun.workflow_id == workflow_id, CiRun.id.not_in(keep)))


def prune_workflows(session: Session, before: datetime) -> None:
    """Workflows (and their runs) not run since `before`: branches merged and gone."""
    session.execute(delete(CiRun).where(CiRun.workflow_id.in_(_stale(before))))
    session.execute(delete(CiWorkflow).where(CiWorkflow.id.in_(_stale(before))))


def _stale(before: datetime) -> Any:
    return select(CiWorkflow.id).where(CiWorkflow.last_run_at < before, CiWorkflow.alerting.is_(False))


def add_dev_event(session: Session, **values: Any) -> None:
    session.execute(_insert(session)(DevEvent).values(**values))


def prune_dev_events(session: Session, before: datetime) -> None:
    session.execute(delete(DevEvent).where(DevEvent.received_at < before))
