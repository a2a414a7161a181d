"""Periods are calendar months in UTC (AWS cuts days and months at 00:00 UTC)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import exists, select, union
from sqlalchemy.orm import Session

from billing.models import (
    BillingEvent,
    CreditNote,
    Invoice,
    MeteringResult,
    PartnerUsage,
    Payment,
    RefundRequest,
    UsageRecord,
)
from billing.reconcile.sql import month_of

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PeriodError(ValueError):
    """A period that is not a calendar month written YYYY-MM."""


@dataclass(frozen=True)
class Period:
    """One calendar month: `start` inclusive, `end` exclusive, both 00:00 UTC."""

    name: str  # YYYY-MM
    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @property
    def days(self) -> list[date]:
        """Every calendar day of the month."""
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]

    def next(self) -> Period:
        return period_bounds(f"{self.end:%Y-%m}")

    def previous(self) -> Period:
        return period_bounds(f"{self.start - timedelta(days=1):%Y-%m}")


def parse_period(text: str) -> str:
    """Validate ``YYYY-MM`` and return it; raises PeriodError with the offending text."""
    if not _PERIOD.match(text.strip()):
        raise PeriodError(f"period {text!r} is not a month written YYYY-MM (e.g. 2026-10)")
    return text.strip()


def period_bounds(period: str) -> Period:
    """The month `period` (``YYYY-MM``) as UTC datetimes: [start, end)."""
    name = parse_period(period)
    year, month = int(name[:4]), int(name[5:])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return Period(name=name, start=start, end=end)


def period_of(moment: date | datetime) -> str:
    """The ``YYYY-MM`` a date or a timestamp (taken in UTC) falls in."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"{moment:%Y-%m}"


def periods_with_data(session: Session) -> list[str]:
    """Every month in which some record sits: usage, metering, partner feeds, invoices, cash.

    Billing events count by their usage period and by their invoice date (a month's usage is
    invoiced early the next month, and money-side rules look at the invoice month)."""
    sources = [
        select(month_of(UsageRecord.usage_hour).label("p")),
        select(month_of(MeteringResult.timestamp).label("p")),
        select(month_of(PartnerUsage.usage_date).label("p")),
        select(month_of(BillingEvent.usage_period_start_date).label("p")).where(
            BillingEvent.usage_period_start_date.is_not(None)),
        select(month_of(BillingEvent.invoice_date).label("p")).where(BillingEvent.invoice_date.is_not(None)),
        select(Invoice.period.label("p")),
        select(month_of(CreditNote.issue_date).label("p")),
        select(month_of(RefundRequest.requested_date).label("p")),
        select(month_of(Payment.received_date).label("p")),
    ]
    found = session.execute(union(*sources)).scalars().all()
    return sorted(p for p in found if p and _PERIOD.match(p))


def has_usage(session: Session, period: Period) -> bool:
    """Whether `usage_records` holds any hour of `period`, asked once per session and month.

    Several usage rules start with this question; on a month without usage it costs a full
    scan (no index leads with `usage_hour`), so the answer is kept in `session.info` for the
    other rules of the same run (one run = one session per month; its data does not change)."""
    cache: dict[str, bool] = session.info.setdefault("reconcile.has_usage", {})
    if period.name not in cache:
        found = exists().where(UsageRecord.usage_hour >= period.start, UsageRecord.usage_hour < period.end)
        cache[period.name] = bool(session.execute(select(found)).scalar())
    return cache[period.name]
