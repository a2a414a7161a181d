"""Periods: calendar months in UTC, and the months present in the data."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from billing.db import transaction
from billing.reconcile.periods import PeriodError, period_bounds, period_of, periods_with_data

from .factories import (
    add_billing_event,
    add_partner_usage,
    add_usage,
    make_account,
    make_product,
    utc,
)


def test_bounds_are_utc_midnights_end_exclusive() -> None:
    """DOMAIN.md: AWS cuts at 00:00 UTC; December rolls into the next year."""
    dec = period_bounds("2026-12")
    assert dec.start == datetime(2026, 12, 1, tzinfo=UTC)
    assert dec.end == datetime(2027, 1, 1, tzinfo=UTC)
    assert dec.last_day == date(2026, 12, 31)
    assert len(period_bounds("2028-02").days) == 29  # leap year
    assert period_bounds("2026-01").previous().name == "2025-12"


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-10", "2026/10", ""])
def test_bad_period_is_rejected_with_the_text(bad: str) -> None:
    with pytest.raises(PeriodError, match="YYYY-MM"):
        period_bounds(bad)


def test_period_of_takes_timestamps_in_utc() -> None:
    from datetime import timedelta, timezone

    # 2026-10-31 23:30 UTC is already November in Tokyo; the period stays October.
    tokyo = datetime(2026, 11, 1, 8, 30, tzinfo=timezone(timedelta(hours=9)))
    assert period_of(tokyo) == "2026-10"


def test_periods_with_data_lists_each_month_once(engine: Engine) -> None:
    with transaction(engine) as s:
        account, product = make_account(s), make_product(s)
        add_usage(s, account, product, "api_calls", {utc(2026, 10, 31, 23): "1", utc(2026, 9, 1): "2"})
        add_partner_usage(s, account, product, "api_calls", {date(2026, 11, 1): "1"})
        add_billing_event(s, account, product, billing_event_id="b" * 40, amount="1",
                          invoice_date=date(2026, 12, 2))
    with transaction(engine) as s:
        assert periods_with_data(s) == ["2026-09", "2026-10", "2026-11", "2026-12"]
