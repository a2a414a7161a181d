"""`fx_rates_remembered`: one FX query per (currency, day) within a batch, none kept after it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from agent.stake import fx_rates_remembered, stake_of
from agent.state import case_input
from billing.db import session_factory
from tests.agent.triage_graph.fakes import add_fx_rate

EUR_OCT = {"currency": "EUR", "period": "2026-10", "delta_amount": "-100.00"}


def _counting(engine: Engine) -> tuple[Callable[[], Session], list[int]]:
    opened: list[int] = []
    factory = session_factory(engine)

    def open_session() -> Session:
        opened.append(1)
        return factory()

    return open_session, opened


def test_a_batch_reads_each_rate_once_and_the_next_batch_reads_again(engine: Engine) -> None:
    add_fx_rate(engine, "EUR", date(2026, 10, 30), "1.10")
    open_session, opened = _counting(engine)
    with fx_rates_remembered():
        first = stake_of(open_session, EUR_OCT)
        again = stake_of(open_session, EUR_OCT)
        stake_of(open_session, {**EUR_OCT, "currency": "GBP"})  # no rate: remembered as none
        stake_of(open_session, {**EUR_OCT, "currency": "GBP"})
    assert first == again and first["usd"] == "110.00" and len(opened) == 2
    add_fx_rate(engine, "EUR", date(2026, 10, 31), "1.20")  # a rate added after the batch is seen
    assert stake_of(open_session, EUR_OCT)["usd"] == "120.00" and len(opened) == 3
    stake_of(open_session, EUR_OCT)  # outside a batch nothing is remembered
    assert len(opened) == 4


def test_the_backend_sees_the_stake_in_usd(engine: Engine) -> None:
    add_fx_rate(engine, "EUR", date(2026, 10, 31), "1.20")
    stake = stake_of(session_factory(engine), EUR_OCT)
    case = case_input({"exception_id": 7, "exception": EUR_OCT, "evidence": {}, "stake": stake})
    assert case.stake_usd == Decimal("120.00")
    assert case_input({"exception_id": 7, "exception": EUR_OCT, "evidence": {}}).stake_usd is None
