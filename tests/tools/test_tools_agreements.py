"""`get_agreement_state`: whether each contract's agreement covers the contract's days in the period."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from billing.db import transaction
from tests.billing.reconcile.factories import make_account, make_agreement, make_contract, make_product, utc
from tests.tools.case_world import _exception
from tools import ToolContext, read_only_session
from tools.contract_tools import get_agreement_state

NEW = "agmt-acme0001aaaaaaaaaaaaaa"


def _covers(engine: Engine, *, contract_start: date, agreement_start: int, contract_end: date | None = None,
            agreement_end: int | None = None) -> bool:
    with transaction(engine) as session:
        account = make_account(session)
        product = make_product(session)
        make_contract(session, account, product, start_date=contract_start, end_date=contract_end, agreement_id=NEW)
        make_agreement(session, account, agreement_id=NEW, start_time=utc(2026, 10, agreement_start),
                       end_time=None if agreement_end is None else utc(2026, 10, agreement_end))
        exception_id = _exception(session, account.id, "k1", "metering_not_accepted", "metering_unprocessed").id
    with read_only_session(engine) as session:
        state = get_agreement_state(ToolContext.for_exception(session, exception_id))
    [row] = state.contracts
    return row.covers_period


def test_a_contract_that_starts_mid_period_needs_its_agreement_from_its_own_first_day(sqlite_engine: Engine) -> None:
    # Subscribed on the 15th, contract and agreement alike: no entitlement gap on the 1st.
    assert _covers(sqlite_engine, contract_start=date(2026, 10, 15), agreement_start=15)


def test_an_agreement_that_starts_after_its_contract_leaves_a_gap(sqlite_engine: Engine) -> None:
    assert not _covers(sqlite_engine, contract_start=date(2026, 10, 1), agreement_start=15)


def test_a_contract_running_all_month_needs_an_agreement_for_the_whole_month(sqlite_engine: Engine) -> None:
    assert not _covers(sqlite_engine, contract_start=date(2026, 1, 1), agreement_start=2)


def test_an_agreement_from_the_first_covers_a_contract_running_all_month(sqlite_engine: Engine) -> None:
    assert _covers(sqlite_engine, contract_start=date(2026, 1, 1), agreement_start=1)


def test_a_contract_that_ends_mid_period_needs_its_agreement_only_until_then(sqlite_engine: Engine) -> None:
    # The contract's last day is the 20th; its agreement ran to the end of that day.
    assert _covers(sqlite_engine, contract_start=date(2026, 1, 1), contract_end=date(2026, 10, 20),
                   agreement_start=1, agreement_end=21)


def _replaced(engine: Engine, *, old_end: int, new_start: int, new_status: str = "ACTIVE") -> tuple[bool, str | None]:
    """Our contract still names the old agreement; the buyer accepted a replacement."""
    with transaction(engine) as session:
        account = make_account(session)
        product = make_product(session)
        make_contract(session, account, product, start_date=date(2026, 1, 1), agreement_id=NEW)
        make_agreement(session, account, agreement_id=NEW, start_time=utc(2026, 1, 1), status="SUPERSEDED",
                       end_time=utc(2026, 10, old_end))
        make_agreement(session, account, agreement_id="agmt-acme0002bbbbbbbbbbbbbb", intent="REPLACE",
                       start_time=utc(2026, 10, new_start), preceding_agreement_id=NEW, status=new_status)
        exception_id = _exception(session, account.id, "k1", "metering_not_accepted", "metering_unprocessed").id
    with read_only_session(engine) as session:
        [row] = get_agreement_state(ToolContext.for_exception(session, exception_id)).contracts
    return row.covers_period, row.replaced_by


def test_a_replacement_that_took_over_covers_and_is_named(sqlite_engine: Engine) -> None:
    """The buyer is subscribed under the replacement: no entitlement gap, and the evidence says by which."""
    assert _replaced(sqlite_engine, old_end=12, new_start=12) == (True, "agmt-acme0002bbbbbbbbbbbbbb")


def test_a_replacement_after_a_gap_does_not_cover(sqlite_engine: Engine) -> None:
    assert _replaced(sqlite_engine, old_end=12, new_start=14) == (False, "agmt-acme0002bbbbbbbbbbbbbb")


def test_a_replacement_rolled_back_is_no_replacement(sqlite_engine: Engine) -> None:
    assert _replaced(sqlite_engine, old_end=12, new_start=12, new_status="ROLLED_BACK") == (False, None)
