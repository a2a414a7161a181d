"""The amount at stake of an exception, in its currency and in USD (for the materiality rule).

At stake = |delta| when the rule computed one, else the larger of |expected| and |observed|.
A non-USD amount converts at the `fx_rates` rate of the last day of the period, or the latest
rate before it (finance books month-end differences at month-end rates); with no rate at all
the USD figure is unknown and the route goes to a person.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.state import StakeInfo
from billing.models import FxRate
from billing.money import decimal_or_none


def amount_at_stake(exception: dict[str, Any]) -> Decimal | None:
    """|delta| if known, else the larger of |expected| and |observed|; None when no amount."""
    delta = decimal_or_none(exception.get("delta_amount"))
    if delta is not None:
        return abs(delta)
    sides = (decimal_or_none(exception.get("expected_amount")), decimal_or_none(exception.get("observed_amount")))
    known = [abs(v) for v in sides if v is not None]
    return max(known) if known else None


def period_end(period: str) -> date:
    """The last day of a ``YYYY-MM`` period."""
    year, month = int(period[:4]), int(period[5:7])
    return date(year, month, calendar.monthrange(year, month)[1])


_Rate = tuple[Decimal, date] | None
#: Rates already read in the current batch, by (currency, day); None when no batch opened one.
_RATES: ContextVar[dict[tuple[str, date], _Rate] | None] = ContextVar("stake_fx_rates", default=None)


@contextmanager
def fx_rates_remembered() -> Iterator[dict[tuple[str, date], _Rate]]:
    """Within the block, `stake_of` reads each (currency, day) rate once (a batch's cases share a
    few month-ends). Scoped, not process-wide, so a rate added between batches is seen by the next
    one. Threads see it when run in a copy of this context (`contextvars.copy_context().run`;
    a plain ThreadPoolExecutor does not copy it), and then share the same dict."""
    rates: dict[tuple[str, date], _Rate] = {}
    token = _RATES.set(rates)
    try:
        yield rates
    finally:
        _RATES.reset(token)


def usd_rate(session: Session, currency: str, on: date) -> tuple[Decimal, date] | None:
    """USD per unit of `currency` on `on` or the latest day before; else the earliest after."""
    before = session.execute(
        select(FxRate.usd_per_unit, FxRate.rate_date)
        .where(FxRate.currency == currency, FxRate.rate_date <= on)
        .order_by(FxRate.rate_date.desc()).limit(1)
    ).first()
    if before is not None:
        return before[0], before[1]
    after = session.execute(
        select(FxRate.usd_per_unit, FxRate.rate_date)
        .where(FxRate.currency == currency, FxRate.rate_date > on)
        .order_by(FxRate.rate_date).limit(1)
    ).first()
    return None if after is None else (after[0], after[1])


def stake_of(session: Callable[[], Session], exception: dict[str, Any]) -> StakeInfo:
    """The amount at stake and its USD equivalent, as strings for the graph state.

    `session` opens a session; it is called only when a rate must be looked up (not for USD)."""
    amount = amount_at_stake(exception)
    currency = (exception.get("currency") or "").upper() or None
    info = StakeInfo(amount=None if amount is None else str(amount), currency=currency, usd=None,
                     rate_date=None, problem=None)
    if amount is None:
        info["problem"] = "the exception carries no amount, so materiality cannot be assessed"
        return info
    if currency in (None, "USD"):
        if currency is None:
            info["problem"] = "the amount has no currency, so its USD value is unknown"
        else:
            info["usd"] = str(amount)
        return info
    try:
        on = period_end(str(exception.get("period") or ""))
    except (ValueError, IndexError):
        info["problem"] = f"period {exception.get('period')!r} is not YYYY-MM; no FX date"
        return info
    remembered = _RATES.get()
    if remembered is not None and (currency, on) in remembered:
        found = remembered[(currency, on)]
    else:
        with session() as opened:
            found = usd_rate(opened, currency, on)
        if remembered is not None:
            remembered[(currency, on)] = found
    if found is None:
        info["problem"] = f"no FX rate for {currency} in fx_rates; the USD value is unknown"
        return info
    rate, rate_date = found
    info["usd"] = str((amount * rate).quantize(Decimal("0.01")))
    info["rate_date"] = rate_date.isoformat()
    return info
