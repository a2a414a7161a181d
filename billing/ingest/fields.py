"""Plain converters from the text of one field to a typed value.

They run once per field of every row (millions of times for usage files), so they are small
functions rather than pydantic models; each raises `FieldError` with a reason a person can act
on. Empty text means "not given": `optional(parser)` turns it into None, required parsers
refuse it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar

from billing.money import CURRENCIES

T = TypeVar("T")
Parser = Callable[[str], T]


class FieldError(ValueError):
    """The text of a field cannot be converted; the message is the reason."""


def _plain_decimal(int_digits: int, places: int) -> re.Pattern[str]:
    return re.compile(rf"[+-]?\d{{1,{int_digits}}}(?:\.\d{{0,{places}}})?")


# Numeric(20, 6) holds money and quantities, Numeric(20, 10) rates: refuse what would not fit
# rather than let the database round it silently.
_AMOUNT = _plain_decimal(14, 6)
_RATE = _plain_decimal(10, 10)
_NUMBERISH = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PERIOD = re.compile(r"(\d{4})-(\d{2})")
_AWS_ACCOUNT = re.compile(r"\d{12}")


def _why_not_decimal(text: str, int_digits: int, places: int) -> str:
    stripped = text.strip()
    if not stripped:
        return "is empty (a number is required)"
    if _NUMBERISH.fullmatch(stripped):
        if "e" in stripped.lower():
            return f"{text!r} is in scientific notation; write a plain decimal such as 1234.5"
        whole, _, frac = stripped.lstrip("+-").partition(".")
        if len(frac) > places:
            return f"{text!r} has more than {places} decimal places"
        if len(whole) > int_digits:
            return f"{text!r} is too large (more than {int_digits} digits before the point)"
    if "," in stripped:
        return (
            f"{text!r} is not a plain decimal (no thousands separators; '.' is the decimal point)"
        )
    return f"{text!r} is not a decimal number"


def amount(text: str) -> Decimal:
    """A money amount or quantity: plain decimal text, up to 6 places (never a float, never 1e3)."""
    if _AMOUNT.fullmatch(text):
        return Decimal(text)
    if _AMOUNT.fullmatch(stripped := text.strip()):
        return Decimal(stripped)
    raise FieldError(_why_not_decimal(text, 14, 6))


def rate(text: str) -> Decimal:
    """A unit price, fee fraction or FX rate: plain decimal text, up to 10 places."""
    if _RATE.fullmatch(text):
        return Decimal(text)
    if _RATE.fullmatch(stripped := text.strip()):
        return Decimal(stripped)
    raise FieldError(_why_not_decimal(text, 10, 10))


def non_negative(parse: Parser[Decimal]) -> Parser[Decimal]:
    """`parse`, then refuse values below zero."""

    def parse_non_negative(text: str) -> Decimal:
        value = parse(text)
        if value < 0:
            raise FieldError(f"{text} is negative; it must be 0 or more")
        return value

    return parse_non_negative


def positive(parse: Parser[Decimal]) -> Parser[Decimal]:
    """`parse`, then refuse zero and negative values."""

    def parse_positive(text: str) -> Decimal:
        value = parse(text)
        if value <= 0:
            raise FieldError(f"{text} must be greater than 0")
        return value

    return parse_positive


def integer(text: str) -> int:
    """A whole number written in digits."""
    stripped = text.strip()
    if stripped.lstrip("+-").isdigit():
        return int(stripped)
    raise FieldError(
        f"{text!r} is not a whole number" if stripped else "is empty (a whole number is required)"
    )


def day(text: str) -> date:
    """A calendar date, ISO 8601 `YYYY-MM-DD`."""
    if _DATE.fullmatch(text := text.strip()):
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise FieldError(f"{text!r} is not a real date ({exc})") from None
    if not text.strip():
        raise FieldError("is empty (a date YYYY-MM-DD is required)")
    raise FieldError(f"{text!r} is not a date in the form YYYY-MM-DD")


def timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp with its UTC offset (`2026-10-31T23:00:00Z`), returned in UTC."""
    if _DATE.fullmatch(text):  # a bare date parses as midnight; a timestamp was asked for
        raise FieldError(f"{text!r} is a date; a timestamp such as {text}T00:00:00Z is required")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        if not text.strip():
            raise FieldError(
                "is empty (a timestamp such as 2026-10-31T23:00:00Z is required)"
            ) from None
        raise FieldError(
            f"{text!r} is not an ISO 8601 timestamp such as 2026-10-31T23:00:00Z"
        ) from None
    if value.tzinfo is None:
        # A naive time could be any zone; guessing would shift usage across hours and periods.
        raise FieldError(f"{text!r} has no UTC offset; write it in UTC, e.g. 2026-10-31T23:00:00Z")
    return value.astimezone(UTC)


def hour(text: str) -> datetime:
    """A UTC timestamp that is the start of an hour (usage is metered per hour)."""
    value = timestamp(text)
    if value.minute or value.second or value.microsecond:
        raise FieldError(f"{text!r} is not the start of an hour (minutes and seconds must be 0)")
    return value


def period(text: str) -> str:
    """A calendar month `YYYY-MM`."""
    match = _PERIOD.fullmatch(text)
    if match and 1 <= int(match.group(2)) <= 12:
        return text
    raise FieldError(f"{text!r} is not a month in the form YYYY-MM")


def currency(text: str) -> str:
    """An ISO 4217 currency code we know (upper case)."""
    if text in CURRENCIES:
        return text
    code = text.strip().upper()
    if code in CURRENCIES:
        return code
    if not code:
        raise FieldError("is empty (an ISO 4217 currency code is required)")
    raise FieldError(f"unknown currency {text!r} (known: {', '.join(sorted(CURRENCIES))})")


def aws_account_id(text: str) -> str:
    """A 12-digit AWS account id."""
    if _AWS_ACCOUNT.fullmatch(text):
        return text
    stripped = text.strip()
    if _AWS_ACCOUNT.fullmatch(stripped):
        return stripped
    if not stripped:
        raise FieldError("is empty (a 12-digit AWS account id is required)")
    raise FieldError(f"{text!r} is not a 12-digit AWS account id")


def flag(text: str) -> bool:
    """A boolean written 1/0 or true/false (any case)."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise FieldError(f"{text!r} is not a boolean (use 1/0 or true/false)")


def string(max_len: int) -> Parser[str]:
    """Non-blank text of at most `max_len` characters, kept exactly as written."""

    def parse_string(value: str) -> str:
        if not value.strip():
            raise FieldError("is empty (a value is required)")
        if len(value) > max_len:
            raise FieldError(f"is {len(value)} characters long; at most {max_len} are allowed")
        return value

    return parse_string


def choice(allowed: Collection[str]) -> Parser[str]:
    """One of a fixed vocabulary (exact spelling)."""
    options = ", ".join(sorted(allowed))

    def parse_choice(value: str) -> str:
        stripped = value.strip()
        if stripped in allowed:
            return stripped
        if not stripped:
            raise FieldError(f"is empty (one of: {options})")
        raise FieldError(f"{value!r} is not one of: {options}")

    return parse_choice


def optional(parse: Parser[T]) -> Callable[[str], T | None]:
    """`parse`, except that empty text means "not given" (None)."""

    def parse_optional(value: str) -> T | None:
        if not value or not value.strip():
            return None
        return parse(value)

    return parse_optional


def memoized(parse: Parser[T], limit: int = 65536) -> Parser[T]:
    """`parse` with a bounded cache: feeds repeat the same hours, dates and codes on many rows."""
    cache: dict[str, T] = {}

    def parse_memoized(value: str) -> T:
        try:
            return cache[value]
        except KeyError:
            result = parse(value)  # errors are never cached: they are raised every time
            if len(cache) >= limit:
                cache.clear()
            cache[value] = result
            return result

    return parse_memoized
