"""Dialect-specific bulk inserts keyed by natural keys (SQLite and PostgreSQL).

Rows go in with one `executemany` per batch. `ON CONFLICT DO NOTHING` makes overlapping files
harmless; `ON CONFLICT DO UPDATE` is used where the newest version of a record must win.

On SQLite (the embedded default, and the benchmark's database) SQLAlchemy's per-row parameter
handling costs more than SQLite itself, so the statement is compiled once and the rows are
handed to the driver as tuples, converted column by column with the very same bind processors
SQLAlchemy would apply (memoised for dates, which repeat on many rows). PostgreSQL takes the
ordinary Core path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Connection, Date, DateTime, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

Processor = Callable[[Any], Any]


def _insert(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"ingest supports SQLite and PostgreSQL, not {name}")


def insert_new(
    conn: Connection, table: Table, records: Sequence[dict[str, Any]], key: Sequence[str]
) -> None:
    """Insert `records`, silently keeping what is already stored under the same natural `key`."""
    if records:
        stmt = _insert(conn, table).on_conflict_do_nothing(index_elements=list(key))
        # Keys are unique within a validated file, so the order of a batch does not matter:
        # SQLite maintains the unique index faster when the rows arrive in its order.
        _execute_many(conn, table, stmt, records, sort_by=key)


def upsert(
    conn: Connection,
    table: Table,
    records: Sequence[dict[str, Any]],
    key: Sequence[str],
    *,
    newer_when: str | None = None,
) -> None:
    """Insert `records`, or overwrite the stored record with the same natural `key`.

    With `newer_when="update_date"` a stored record is only overwritten by one whose
    `update_date` is later (the bi-temporal feeds' "latest version wins")."""
    if not records:
        return
    stmt = _insert(conn, table)
    where: ColumnElement[bool] | None = None
    if newer_when is not None:
        stored = table.c[newer_when]
        where = stored.is_(None) | (stmt.excluded[newer_when] > stored)
    columns = [c for c in records[0] if c not in key]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={c: stmt.excluded[c] for c in columns}, where=where
    )
    _execute_many(conn, table, stmt, records)


def count_rows(conn: Connection, table: Table) -> int:
    """How many rows `table` holds (seen from this transaction)."""
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _execute_many(
    conn: Connection,
    table: Table,
    stmt: Insert,
    records: Sequence[dict[str, Any]],
    sort_by: Sequence[str] = (),
) -> None:
    if conn.dialect.name != "sqlite":
        conn.execute(stmt, list(records))
        return
    columns = list(records[0])
    compiled = stmt.compile(dialect=conn.dialect, column_keys=columns)
    order = list(compiled.positiontup or ())
    if sorted(order) != sorted(columns):  # anything unusual: let SQLAlchemy do it
        conn.execute(stmt, list(records))
        return
    getter = itemgetter(*order)
    rows: list[Any] = (
        [getter(r) for r in records] if len(order) > 1 else [(getter(r),) for r in records]
    )
    processors = [(i, _processor(conn, table, name)) for i, name in enumerate(order)]
    todo = [(i, p) for i, p in processors if p is not None]
    if todo:
        cols = list(zip(*rows))
        for i, process in todo:
            cols[i] = tuple(map(process, cols[i]))
        rows = list(zip(*cols))
    if sort_by and all(k in order for k in sort_by):
        try:
            rows.sort(key=itemgetter(*(order.index(k) for k in sort_by)))
        except TypeError:  # a NULL among the key values cannot be ordered: keep the file's order
            pass
    conn.exec_driver_sql(compiled.string, rows)


def _processor(conn: Connection, table: Table, name: str) -> Processor | None:
    column_type = table.c[name].type
    process = column_type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if process is None:
        return None
    # Datetimes and dates repeat on many rows: convert each distinct value once.
    repeats = isinstance(getattr(column_type, "impl", column_type), (Date, DateTime))
    return _memoised(process) if repeats else process


def _memoised(process: Processor) -> Processor:
    cache: dict[Any, Any] = {None: None}

    def convert(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            cache[value] = result = process(value)
            return result

    return convert
