"""Bulk inserts: the rows SQLAlchemy's own executemany would write, without its per-row work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, insert

from tocsin.storage.bulk import BulkInsert
from tocsin.storage.models import Alert

ALERTS = cast(Table, Alert.__table__)
NOW = datetime(2026, 12, 4, 1, 0, 0, 123456, tzinfo=UTC)


def row(ident: int, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": ident,
        "integration_id": 1,
        "service_id": 1,
        "dedup_key": f"key-{ident}",
        "status": "firing",
        "severity": "P1",
        "sender_severity": "critical",
        "urgency": "high",
        "summary": f"alert {ident}",
        "source": "",
        "labels": {"alertname": "Disk", "ü": "ß"},
        "details": {"nested": [1, 2, {"x": None}]},
        "links": [{"href": "https://example.com", "text": "runbook"}],
        "raw": "{}",
        "group_key": "",
        "count": 1,
        "first_seen": NOW,
        "last_seen": NOW,
        "acknowledged_at": None,
        "resolved_at": None,
        "incident_id": None,
        "suppressed_by": None,
    }
    values.update(changes)
    return values


def stored(engine: Engine) -> list[tuple[Any, ...]]:
    """The rows as the driver returns them, not values read back through SQLAlchemy's types."""
    with engine.connect() as connection:
        return [tuple(r) for r in connection.exec_driver_sql("SELECT * FROM alerts ORDER BY id")]


def test_it_writes_what_sqlalchemys_executemany_writes(engine: Engine) -> None:
    later = NOW + timedelta(minutes=5)
    rows = [row(1), row(2, first_seen=later, last_seen=later, acknowledged_at=later), row(3, labels={})]
    with engine.begin() as connection:
        connection.execute(insert(ALERTS), rows)
    theirs = stored(engine)
    with engine.begin() as connection:
        connection.execute(ALERTS.delete())
        BulkInsert(ALERTS, tuple(rows[0]), connection).execute(connection, rows)
    assert stored(engine) == theirs
    if engine.dialect.name == "sqlite":  # the stored text itself
        first = dict(zip((c.name for c in ALERTS.columns), theirs[0], strict=True))
        assert first["first_seen"] == "2026-12-04 01:00:00.123456"
        assert first["labels"] == '{"alertname":"Disk","ü":"ß"}'


def test_it_refuses_to_leave_out_a_column_that_has_a_default(engine: Engine) -> None:
    with engine.connect() as connection, pytest.raises(AssertionError, match="count"):
        BulkInsert(ALERTS, [name for name in row(1) if name != "count"], connection)


def test_new_alerts_get_their_ids_in_order_on_both_databases(engine: Engine) -> None:
    from sqlalchemy.orm import Session

    from tocsin.storage.repositories import alerts as repo

    rows = [row(0, dedup_key=f"storm-{n}") for n in range(50)]
    for values in rows:
        del values["id"]
    with Session(engine) as session:
        first = repo.insert_alerts(session, rows[:20])
        second = repo.insert_alerts(session, [dict(values) for values in rows[20:]])
        session.commit()
    ids = first + second
    assert len(set(ids)) == 50
    assert ids == sorted(ids)
    with engine.connect() as connection:
        stored: dict[int, str] = {
            row[0]: row[1] for row in connection.exec_driver_sql("SELECT id, dedup_key FROM alerts")
        }
    assert [stored[ident] for ident in ids] == [f"storm-{n}" for n in range(50)]
