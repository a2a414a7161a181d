"""Prepared statements for the case queries, built once per process and run on the session's connection.

A case runs a dozen small queries; on SQLite building a SQLAlchemy statement and going
through the ORM costs several times the query itself. So each query is built once (with bound
parameters, `expanding` ones for IN lists), cached by name, and executed as Core on the
session's connection — same transaction, same read-only guard at the database.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Row
from sqlalchemy.orm import Session

T = TypeVar("T")
_STATEMENTS: dict[Hashable, Any] = {}


def prepared(key: Hashable, build: Callable[[], T]) -> T:
    """The statement cached under `key`, built by `build()` the first time."""
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build()
    return stmt  # type: ignore[no-any-return]


def fetch_rows(session: Session, stmt: Any, **params: Any) -> Sequence[Row[Any]]:
    """Run a prepared SELECT on the session's connection and return all rows."""
    return session.connection().execute(stmt, params).all()


def dialect(session: Session) -> str:
    """The session's database dialect name (``sqlite`` or ``postgresql``)."""
    return session.get_bind().dialect.name
