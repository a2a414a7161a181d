"""The tool session refuses writes: in SQLAlchemy, and in the database itself."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import DBAPIError

from billing.db import transaction
from billing.models import Account, FxRate
from tests.tools.case_world import World
from tools import ReadOnlyError, ToolContext, is_read_only, read_only_session


def test_orm_changes_are_refused_at_flush(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        session.add(FxRate(rate_date=date(2026, 10, 2), currency="EUR", usd_per_unit=Decimal("1.1")))
        with pytest.raises(ReadOnlyError):
            session.flush()
        session.rollback()
        account = session.get(Account, world.acme_id)
        account.name = "changed"
        with pytest.raises(ReadOnlyError):
            session.flush()


def test_core_dml_through_the_session_is_refused(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session, pytest.raises(ReadOnlyError):
        session.execute(insert(FxRate).values(rate_date=date(2026, 10, 2), currency="EUR", usd_per_unit=Decimal(1)))


def test_the_database_refuses_raw_sql_writes(engine: Engine, world: World) -> None:
    """SQLite: PRAGMA query_only; PostgreSQL: a READ ONLY transaction — even after a rollback."""
    with read_only_session(engine) as session:
        for _ in range(2):  # the second round runs in a transaction begun after a rollback
            with pytest.raises(DBAPIError):
                session.execute(text("UPDATE accounts SET name = 'x'"))
            session.rollback()
        assert session.scalar(select(Account.name).where(Account.id == world.acme_id)) != "x"


def test_the_connection_is_writable_again_for_its_next_user(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        assert is_read_only(session)
    with transaction(engine) as session:
        session.add(FxRate(rate_date=date(2026, 10, 3), currency="EUR", usd_per_unit=Decimal("1.1")))
    with transaction(engine) as session:
        assert session.scalar(select(FxRate.usd_per_unit).where(FxRate.rate_date == date(2026, 10, 3))) == Decimal("1.1")


def test_a_tool_context_needs_a_read_only_session(engine: Engine, world: World) -> None:
    with transaction(engine) as session, pytest.raises(ValueError, match="read-only session"):
        ToolContext(session=session, account_id=world.acme_id)
