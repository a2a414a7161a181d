"""Small helpers that turn aggregated SQL values into the evidence a `Finding` carries.

Evidence goes into JSON (`details`) and into a hash that tells "changed" from "same" on the
next run, so every value is rendered the same way every time: decimals without float noise
or trailing zeros, timestamps in ISO 8601 UTC, lists sorted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

SIX_PLACES = Decimal("0.000001")


def exact(value: Any) -> Decimal:
    """A SQL aggregate as a Decimal held to the 6 places the schema keeps (0 for NULL).

    SQLite sums NUMERIC columns as floats; rounding to the stored scale removes the noise."""
    if value is None:
        return Decimal(0)
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(SIX_PLACES)


def text(value: Decimal | None) -> str | None:
    """A decimal as plain text without trailing zeros (``"1200"``, ``"0.002"``)."""
    if value is None:
        return None
    normalized = value.normalize()
    return format(normalized if normalized != 0 else Decimal(0), "f")


def value_of(quantity: Decimal, unit_price: Decimal | None) -> Decimal | None:
    """quantity × unit price, to 6 places; None when there is no price to apply."""
    if unit_price is None:
        return None
    return (quantity * unit_price).quantize(SIX_PLACES)


def moment(value: datetime | date | str | None) -> str | None:
    """ISO 8601 text of a timestamp (as UTC, ``Z``) or a date; strings pass through."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def as_datetime(value: datetime | str | None) -> datetime | None:
    """A timestamp read back from an aggregate (SQLite returns MIN/MAX of timestamps as text)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_date(value: date | str | None) -> date | None:
    """A date read back from an aggregate or a text expression (SQLite keeps dates as text)."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(value[:10])
