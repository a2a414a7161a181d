"""Field converters: exact decimals, UTC timestamps, strict dates, known currencies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.ingest import fields as f


def test_amount_is_exact_decimal_text() -> None:
    assert f.amount("130.13") == Decimal("130.13")
    assert f.amount(" -3.90 ") == Decimal("-3.90")
    assert str(f.amount("0.166667")) == "0.166667"  # never through float


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e3", "scientific notation"),
        ("1,500", "thousands separators"),
        ("0.1234567", "more than 6 decimal places"),
        ("twelve", "not a decimal number"),
        ("NaN", "not a decimal number"),
        ("", "is empty"),
    ],
)
def test_amount_refuses_what_is_not_a_plain_decimal(text: str, reason: str) -> None:
    with pytest.raises(f.FieldError, match=reason):
        f.amount(text)


def test_non_negative_and_positive() -> None:
    assert f.non_negative(f.amount)("0") == 0
    with pytest.raises(f.FieldError, match="negative"):
        f.non_negative(f.amount)("-5")
    with pytest.raises(f.FieldError, match="greater than 0"):
        f.positive(f.rate)("0")


def test_timestamps_are_returned_in_utc() -> None:
    """DOMAIN.md: periods are calendar months in UTC (AWS cuts at 00:00 UTC), so an offset is
    converted, never dropped: 00:30+01:00 on 1 November is still October in UTC."""
    assert f.timestamp("2026-10-31T23:00:00Z") == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert f.timestamp("2026-11-01T00:30:00+01:00") == datetime(2026, 10, 31, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-10-31T23:00:00", "no UTC offset"),
        ("2026-10-31", "is a date"),
        ("yesterday", "not an ISO 8601 timestamp"),
    ],
)
def test_timestamp_refuses_ambiguous_times(text: str, reason: str) -> None:
    with pytest.raises(f.FieldError, match=reason):
        f.timestamp(text)


def test_usage_hours_start_on_the_hour() -> None:
    """DOMAIN.md: AWS deduplicates metering per product/customer/hour/dimension; usage rows are hours."""
    assert f.hour("2026-10-31T22:00:00Z").hour == 22
    with pytest.raises(f.FieldError, match="start of an hour"):
        f.hour("2026-10-31T22:30:00Z")


def test_dates_are_strict_iso() -> None:
    assert f.day("2026-10-31") == date(2026, 10, 31)
    with pytest.raises(f.FieldError, match="not a real date"):
        f.day("2026-02-30")
    with pytest.raises(f.FieldError, match="YYYY-MM-DD"):
        f.day("01/12/2026")


def test_currency_and_account_ids() -> None:
    assert f.currency("usd") == "USD"
    with pytest.raises(f.FieldError, match="unknown currency 'XYZ'"):
        f.currency("XYZ")
    assert f.aws_account_id("012345678901") == "012345678901"  # leading zero kept
    with pytest.raises(f.FieldError, match="12-digit"):
        f.aws_account_id("11112222333")


def test_period_and_flags() -> None:
    assert f.period("2026-10") == "2026-10"
    with pytest.raises(f.FieldError):
        f.period("2026-13")
    assert f.flag("1") is True and f.flag("false") is False
    with pytest.raises(f.FieldError):
        f.flag("maybe")


def test_memoized_never_caches_an_error() -> None:
    parse = f.memoized(f.day)
    assert parse("2026-10-31") is parse("2026-10-31")
    for _ in range(2):
        with pytest.raises(f.FieldError):
            parse("2026-02-30")
