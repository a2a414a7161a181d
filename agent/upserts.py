"""INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL: writes that are safe to repeat.

The review node runs again from its top when a case resumes; what it wrote the first time
must not be written twice, and checking first would cost a query per table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_missing(session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert the rows whose unique `keys` are not in `table` yet; leave the others as they are."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"insert_missing supports SQLite and PostgreSQL, not {dialect}")
    statement = module.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    session.execute(statement, list(rows))
