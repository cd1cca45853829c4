"""Per-module engine leases: one process runs a module at a time; a busy lease is skipped."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tocsin.storage.models import EngineLease


def try_acquire(session: Session, module: str, holder: str, now: datetime, until: datetime) -> bool:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(EngineLease)
        .values(module=module, holder=holder, expires_at=now)
        .on_conflict_do_nothing(index_elements=[EngineLease.module])
    )
    result = session.execute(
        update(EngineLease)
        .where(
            EngineLease.module == module,
            or_(EngineLease.holder == holder, EngineLease.expires_at <= now),
        )
        .values(holder=holder, expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(session: Session, module: str, holder: str) -> None:
    session.execute(delete(EngineLease).where(EngineLease.module == module, EngineLease.holder == holder))


def try_acquire_many(
    session: Session, modules: Collection[str], holder: str, now: datetime, until: datetime
) -> set[str]:
    """`try_acquire` for several modules in two statements; returns those now held by `holder`."""
    if not modules:
        return set()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(EngineLease)
        .values([{"module": module, "holder": holder, "expires_at": now} for module in sorted(modules)])
        .on_conflict_do_nothing(index_elements=[EngineLease.module])
    )
    result = session.execute(
        update(EngineLease)
        .where(
            EngineLease.module.in_(sorted(modules)),
            or_(EngineLease.holder == holder, EngineLease.expires_at <= now),
        )
        .values(holder=holder, expires_at=until)
        .returning(EngineLease.module)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


def release_many(session: Session, modules: Collection[str], holder: str) -> None:
    if modules:
        session.execute(
            delete(EngineLease).where(EngineLease.module.in_(sorted(modules)), EngineLease.holder == holder)
        )
