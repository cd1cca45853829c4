"""Bulk inserts that skip SQLAlchemy's per-row parameter work.

Under an alert storm SQLAlchemy's executemany spent more time building each
row's parameters (a dict per row, then each value through its type's processor)
than SQLite spent writing the rows. Here each column's processor is looked up
once, a value that repeats within the batch (every new alert of a batch has the
same first and last seen) is converted once, and the driver gets plain tuples.
The values are the ones SQLAlchemy itself would send: the same processors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Connection, DateTime, Table, insert
from sqlalchemy.types import TypeDecorator

_Processor = Callable[[Any], Any] | None


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
