"""Money: exact parsing, currencies we know, rounding to the minor unit, evidence figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.money import MoneyError, check_currency, decimal_or_none, fmt, parse_amount, quantize


@pytest.mark.parametrize(("text", "expected"), [
    ("1234.50", Decimal("1234.50")), ("1,234.5", Decimal("1234.5")), (" 7 ", Decimal("7")), (42, Decimal("42")),
    (Decimal("0.000001"), Decimal("0.000001")), ("-3.10", Decimal("-3.10")),
])
def test_parse_amount_is_exact(text: str | int | Decimal, expected: Decimal) -> None:
    value = parse_amount(text)
    assert value == expected and str(value) == str(expected)  # the scale is kept too


@pytest.mark.parametrize("bad", [0.1, "12,3x", "", "NaN", "Infinity"])
def test_parse_amount_refuses_what_is_not_an_exact_finite_number(bad: object) -> None:
    with pytest.raises(MoneyError, match="float|not a number|not a finite number"):
        parse_amount(bad)  # type: ignore[arg-type]


def test_currencies_are_checked_and_normalised() -> None:
    assert check_currency(" usd ") == "USD"
    with pytest.raises(MoneyError, match="unknown currency 'XYZ'"):
        check_currency("XYZ")


def test_quantize_rounds_half_up_to_the_minor_unit() -> None:
    assert quantize(Decimal("2.345"), "USD") == Decimal("2.35")
    assert quantize(Decimal("-2.345"), "EUR") == Decimal("-2.35")  # half away from zero
    assert quantize(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert fmt(Decimal("1234567.891"), "USD") == "USD 1,234,567.89"
    assert fmt(Decimal("2706579"), "JPY") == "JPY 2,706,579"


@pytest.mark.parametrize(("value", "expected"), [
    ("1234.567", Decimal("1234.567")), (12, Decimal("12")), ("-0.50", Decimal("-0.50")),
    (None, None), ("", None), ("n/a", None), (True, None), ({"amount": "1"}, None),
])
def test_decimal_or_none_reads_evidence_figures(value: object, expected: Decimal | None) -> None:
    assert decimal_or_none(value) == expected
