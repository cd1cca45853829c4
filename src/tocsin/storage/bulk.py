"""Bulk inserts that skip SQLAlchemy's per-row parameter work.

Under an alert storm SQLAlchemy's executemany spent more time building each
row's parameters (a dict per row, then each value through its type's processor)
than SQLite spent writing the rows. Here each column's processor is looked up
once, a value that repeats within the batch (every new alert of a batch has the
same first and last seen) is converted once, and the driver gets plain tuples.
The values are the ones SQLAlchemy itself would send: the same processors.

Two forms: `BulkInsert` takes rows as dicts of Python values and converts them
(the ingest writer); `insert_rows` takes rows its caller has already put in the
driver's form, with `driver_time` for timestamps and JSON as text (the
escalation batch, which builds its tuples directly). `among` is the `IN` that
keeps a statement's text the same for every batch size on PostgreSQL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import JSON, Column, ColumnElement, Connection, DateTime, Dialect, Table, any_, bindparam, insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator

from tocsin.storage.types import UTCDateTime

if TYPE_CHECKING:
    import psycopg

_Processor = Callable[[Any], Any] | None
DriverTime = Callable[[datetime], object]
_DRIVER_TIME: dict[str, DriverTime] = {}


class BulkInsert:
    """One table's INSERT of the given columns, for one dialect, built once."""

    def __init__(
        self, table: Table, columns: Sequence[str], connection: Connection, *, returning: str | None = None
    ) -> None:
        dialect = connection.dialect
        # The statement as SQLAlchemy compiles it, and its parameters' order.
        statement = insert(table) if returning is None else insert(table).returning(table.c[returning])
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        self.sql = compiled.string
        # SQLite's driver takes positional parameters, psycopg named ones.
        self._positional = compiled.positiontup is not None
        self.columns = tuple(compiled.positiontup if compiled.positiontup is not None else compiled.params)
        # Python-side defaults are not applied here: every column with one must be given.
        assert set(self.columns) == set(columns), f"columns with defaults left out: {set(self.columns) - set(columns)}"
        chosen: list[Column[Any]] = [table.c[name] for name in self.columns]
        self._processors: list[_Processor] = [column.type.bind_processor(dialect) for column in chosen]
        # Timestamps repeat within a batch: convert each distinct one once.
        self._memoized = [_is_datetime(column) for column in chosen]

    def execute(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            connection.exec_driver_sql(self.sql, self._params(rows))

    def execute_returning(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """PostgreSQL (psycopg): the statement's RETURNING value for each row, in the rows'
        order, from one round trip (psycopg pipelines an executemany)."""
        if not rows:
            return []
        driver = connection.connection.driver_connection
        assert driver is not None
        returned: list[Any] = []
        with driver.cursor() as cursor:
            cursor.executemany(self.sql, self._params(rows), returning=True)
            while True:
                row = cursor.fetchone()
                assert row is not None, "every row returns its value"
                returned.append(row[0])
                if not cursor.nextset():
                    break
        return returned

    def _params(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        pairs = [
            (name, _memo(process) if memoized and process is not None else process)
            for name, process, memoized in zip(self.columns, self._processors, self._memoized, strict=True)
        ]
        params: list[Any] = [
            tuple(row[name] if convert is None else convert(row[name]) for name, convert in pairs) for row in rows
        ]
        if not self._positional:
            params = [dict(zip(self.columns, values, strict=True)) for values in params]
        return params


def _memo(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    converted: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return converted[value]
        except KeyError:
            converted[value] = result = process(value)
            return result

    return convert


def _is_datetime(column: Column[Any]) -> bool:
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    return isinstance(kind, DateTime)


def driver_time(dialect: Dialect) -> DriverTime:
    """A UTC timestamp as the database driver takes it (on SQLite, the text SQLAlchemy stores),
    remembered per value: the same few instants (now, now plus a rule's delay) repeat in every
    row of a batch, and converting each once and not once a row saves about a tenth of its time."""
    process = _DRIVER_TIME.get(dialect.name)
    if process is None:
        # The dialect's own implementation of the column type, so the rows read back as SQLAlchemy's do.
        processor = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
        assert processor is not None
        process = _DRIVER_TIME[dialect.name] = functools.lru_cache(maxsize=256)(processor)
    return process


def insert_rows(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    on_conflict: str | None = None,
) -> None:
    """Insert rows already in the driver's form (`driver_time`, JSON text), one executemany
    straight to the driver: SQLAlchemy's per-row processing of the parameters cost as much
    as the database's work on PostgreSQL. There, rows that cannot conflict are copied in
    (COPY), which takes the database half the time of as many INSERTs."""
    postgres = connection.dialect.name == "postgresql"
    if postgres and on_conflict is None:
        driver = cast("psycopg.Connection[Any]", connection.connection.dbapi_connection)
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marker = "%s" if postgres else "?"
    values = ", ".join(
        f"{marker}::json" if postgres and isinstance(table.c[name].type, JSON) else marker for name in columns
    )
    # Names from the models, every value bound.
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608
    if on_conflict is not None:
        sql += f" ON CONFLICT ({on_conflict}) DO NOTHING"
    connection.exec_driver_sql(sql, rows)


def among(
    column: ColumnElement[Any] | InstrumentedAttribute[Any], values: Sequence[Any], dialect: Dialect
) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(array)`: one parameter instead of a
    thousand, so the statement's text is the same for every batch (compiled and prepared once)
    and nobody renders and parses a thousand placeholders (a tenth of a batch's time)."""
    if dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)
