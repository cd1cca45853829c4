from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.storage.db import normalize_url
from tocsin.storage.models import AuditEvent


def test_postgres_urls_pick_psycopg() -> None:
    assert normalize_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_datetimes_come_back_aware_in_utc(session: Session) -> None:
    stamp = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    session.add(AuditEvent(at=stamp, actor_name="t", action="a", object_type="o", object_key="k", detail={"x": 1}))
    session.commit()
    session.expire_all()
    row = session.scalars(select(AuditEvent)).one()
    assert row.at == stamp
    assert row.at.tzinfo is not None
    assert row.detail == {"x": 1}
