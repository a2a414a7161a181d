"""Money: Decimal amounts that always travel with an ISO 4217 currency."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# The currencies our channels settle in (AWS disburses in USD, EUR, GBP, AUD, JPY) plus the
# usual direct-contract ones. An unknown code is an input error, never silently accepted.
CURRENCIES: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "AUD": 2, "JPY": 0, "CAD": 2, "CHF": 2, "SEK": 2,
    "NOK": 2, "DKK": 2, "INR": 2, "SGD": 2, "NZD": 2, "BRL": 2, "MXN": 2, "KRW": 0,
}

CENT = Decimal("0.01")


class MoneyError(ValueError):
    """An amount or currency that cannot be used as money."""


def parse_amount(text: str | int | Decimal) -> Decimal:
    """Parse an amount exactly (never through float); raises MoneyError on anything else."""
    if isinstance(text, float):  # a float has already lost the exact value
        raise MoneyError(f"amount {text!r} is a float; pass a string or Decimal")
    try:
        value = Decimal(str(text).strip().replace(",", "")) if not isinstance(text, Decimal) else text
    except InvalidOperation as exc:
        raise MoneyError(f"{text!r} is not a number") from exc
    if not value.is_finite():
        raise MoneyError(f"{text!r} is not a finite number")
    return value


def decimal_or_none(value: object) -> Decimal | None:
    """A Decimal from a JSON evidence value (a number's text, an int), or None when there is
    none (missing, empty, a flag, not a number): for reading figures out of evidence."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def check_currency(code: str) -> str:
    """Return the upper-cased ISO 4217 code, or raise MoneyError if we do not know it."""
    normalized = (code or "").strip().upper()
    if normalized not in CURRENCIES:
        raise MoneyError(f"unknown currency {code!r}")
    return normalized


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit (2 places for USD, 0 for JPY)."""
    exponent = Decimal(1).scaleb(-CURRENCIES[check_currency(currency)])
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def fmt(amount: Decimal, currency: str) -> str:
    """Human form used in drafts and reports, e.g. ``USD 1,234.50``."""
    places = CURRENCIES.get(currency, 2)
    return f"{currency} {quantize(amount, currency):,.{places}f}"
