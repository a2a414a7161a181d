"""Field types of the case bundle: exact decimals as strings, UTC timestamps, periods, currencies.

A bundle is a document other systems write and read, so its JSON form is fixed here once:
amounts and quantities are decimal strings in a canonical form (no exponent, no trailing
zeros: ``"1234.5"``), timestamps are ISO 8601 in UTC with a ``Z``, periods are ``YYYY-MM``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from billing.money import CURRENCIES

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_DECIMAL_RE = re.compile(DECIMAL_PATTERN)


def decimal_text(value: Decimal) -> str:
    """The canonical text of a decimal: ``Decimal("12.300000")`` → ``"12.3"``, ``1E+2`` → ``"100"``."""
    if value == 0:
        return "0"  # also folds -0 and 0E-6
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _to_decimal(value: Any) -> Decimal:
    # Floats and booleans are refused: a float has already lost the exact amount. (ValueError, not
    # TypeError, throughout: pydantic turns only ValueError into a validation error with its path.)
    if isinstance(value, (bool, float)):
        raise ValueError(  # noqa: TRY004
            f"{value!r} is a {type(value).__name__}; write amounts as decimal strings, e.g. \"12.30\"")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        if not _DECIMAL_RE.match(value.strip()):
            raise ValueError(f"{value!r} is not a decimal string like \"-12.30\"")
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:  # pragma: no cover - the pattern already rules this out
            raise ValueError(f"{value!r} is not a decimal") from exc
    else:
        raise ValueError(f"expected a decimal string, got {type(value).__name__}")  # noqa: TRY004
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


Dec = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(decimal_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN,
                    "description": "An exact decimal written as a string, e.g. \"1234.5\"."}),
]
"""An exact amount, rate or quantity; a decimal string in JSON."""


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp has no time zone; write it in UTC, e.g. 2026-10-01T00:00:00Z")
    return value.astimezone(UTC)


def timestamp_text(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z`` (microseconds only when there are some)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UTCTime = Annotated[
    datetime,
    AfterValidator(_utc),
    PlainSerializer(timestamp_text, return_type=str, when_used="json"),
]
"""A timezone-aware timestamp, kept and written in UTC."""


def _check_currency(code: str) -> str:
    if code not in CURRENCIES:
        raise ValueError(f"unknown currency {code!r}; known: {', '.join(sorted(CURRENCIES))}")
    return code


Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_check_currency)]
Period = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
ChannelName = Literal["aws_marketplace", "azure_marketplace", "gcp_marketplace", "reseller", "direct"]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def _ref_text(value: Any) -> Any:
    # Record refs are ids; a rule that stored a number still names a record.
    if isinstance(value, list):
        return [v if isinstance(v, str) else str(v) for v in value]
    return value


RefList = Annotated[list[str], BeforeValidator(_ref_text)]
