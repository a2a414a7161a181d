"""Calendar months in UTC, the grain of every period (AWS cuts months at 00:00 UTC)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def parse_period(period: str) -> tuple[int, int]:
    """`"2026-10"` → `(2026, 10)`; raises ValueError on anything that is not YYYY-MM."""
    match = _PERIOD.fullmatch(period)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"period {period!r} is not a month in the form YYYY-MM")
    return int(match.group(1)), int(match.group(2))


def add_months(period: str, months: int) -> str:
    """The period `months` calendar months after `period` (negative goes back)."""
    year, month = parse_period(period)
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def periods_from(start: str, months: int) -> list[str]:
    """`months` consecutive periods beginning with `start`."""
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    return [add_months(start, i) for i in range(months)]


def first_day(period: str) -> date:
    """The first calendar day of `period`."""
    year, month = parse_period(period)
    return date(year, month, 1)


def last_day(period: str) -> date:
    """The last calendar day of `period`."""
    return first_day(add_months(period, 1)) - timedelta(days=1)


def period_start(period: str) -> datetime:
    """00:00 UTC on the first day of `period`."""
    day = first_day(period)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def hours_in(period: str) -> int:
    """How many hours `period` has (672 to 744)."""
    return int((period_start(add_months(period, 1)) - period_start(period)).total_seconds()) // 3600


def period_of(day: date | datetime) -> str:
    """The period a date or UTC timestamp falls in."""
    return f"{day.year:04d}-{day.month:02d}"


def iso_hour(moment: datetime) -> str:
    """`2026-10-31T23:00:00Z`: the timestamp form every file uses."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
