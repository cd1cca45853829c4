"""Engines and sessions for SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (`postgresql://`, `postgres://`) and pick our drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _to_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    # JSON columns (labels, details, timeline data) through orjson: under an alert storm
    # the standard library's encoder was a tenth of the writer's time.
    kwargs.setdefault("json_serializer", _to_json)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def writer_sessions(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for one long-lived writer thread (the ingest writer).

    On PostgreSQL, its own one-connection engine without the pre-ping: the ping is
    a round trip per checkout, which was a quarter of the writer's time per batch.
    A connection that dropped fails the one batch that meets it; the pool then
    discards it, and the writer retries that batch's requests on a new one.
    """
    engine = sessions.kw.get("bind")
    if not isinstance(engine, Engine) or engine.dialect.name != "postgresql":
        return sessions
    url = engine.url.render_as_string(hide_password=False)
    return make_sessionmaker(
        make_engine(
            url,
            pool_pre_ping=False,
            pool_size=1,
            max_overflow=1,
        )
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # SQLite has one writer. Taking the write lock up front makes a second
        # writer wait (busy_timeout) instead of failing mid-transaction when a
        # read lock cannot be upgraded.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
