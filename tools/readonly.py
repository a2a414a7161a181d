"""Read-only database sessions for the tools: writes are refused by SQLAlchemy and by the database.

Three locks, so no path writes: a `before_flush` listener (ORM changes), a `do_orm_execute`
listener (``session.execute(insert(...))``), and the database itself — ``SET TRANSACTION READ
ONLY`` on PostgreSQL (every transaction of the connection), ``PRAGMA query_only`` on SQLite — for raw SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, Session

READ_ONLY = "tools.read_only"


class ReadOnlyError(PermissionError):
    """Something tried to write through a tool session."""


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlyError("tool sessions are read-only: a tool tried to add, change or delete a row")


def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyError("tool sessions are read-only: a tool tried to run an INSERT, UPDATE or DELETE")


def is_read_only(session: Session) -> bool:
    """Whether `session` was opened by `read_only_session`."""
    return bool(session.info.get(READ_ONLY))


@contextmanager
def read_only_session(engine: Engine) -> Iterator[Session]:
    """A session on one connection whose transaction cannot write, closed (and unlocked) on exit.

    One session may serve many cases (a batch); it reads a consistent view on PostgreSQL
    for as long as it is open."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA query_only = ON")
        elif engine.dialect.name == "postgresql":
            # Every transaction of this connection is READ ONLY (SET TRANSACTION READ ONLY each
            # time), even one begun after a rollback; the pool resets it when the connection returns.
            connection.execution_options(postgresql_readonly=True)
        session = Session(bind=connection, autoflush=False, expire_on_commit=False)
        session.info[READ_ONLY] = True
        event.listen(session, "before_flush", _refuse_flush)
        event.listen(session, "do_orm_execute", _refuse_dml)
        try:
            yield session
        finally:
            session.close()
            connection.rollback()
            if sqlite:  # the connection goes back to the pool: leave it writable for its next user
                connection.exec_driver_sql("PRAGMA query_only = OFF")
                connection.commit()
