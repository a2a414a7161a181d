"""Queries for usage: ours by day and by hour, the partner's daily feed, and metering results.

Sums are computed in SQL (GROUP BY on the indexed natural key), so a month of hourly rows
costs one query, not 720 objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from billing.bundles.records import MeteringResultRecord, MeteringStatusCount, PartnerUsageRecord, UsageDay, UsageHour
from billing.bundles.scope import CaseScope, at_midnight
from billing.models import MeteringResult, PartnerUsage, UsageRecord

SUCCESS = "Success"
# An ISO timestamp inside an exception's details (hours the rule names: gaps, missing hours...).
_ISO_HOUR = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def utc_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, on SQLite and PostgreSQL alike."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite keeps UTC timestamps as naive text


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def fetch_usage_days(session: Session, account_id: int, product_codes: Iterable[str],
                     window: tuple[date, date]) -> list[UsageDay]:
    """Our usage per product × dimension × UTC day within `window` (half-open), zero days included."""
    codes = sorted(set(product_codes))
    if not codes:
        return []
    day = utc_day(session, UsageRecord.usage_hour).label("day")
    rows = session.execute(
        select(UsageRecord.product_code, UsageRecord.dimension_key, day, func.sum(UsageRecord.quantity))
        .where(UsageRecord.account_id == account_id, UsageRecord.product_code.in_(codes),
               UsageRecord.usage_hour >= at_midnight(window[0]), UsageRecord.usage_hour < at_midnight(window[1]))
        .group_by(UsageRecord.product_code, UsageRecord.dimension_key, day)
    ).all()
    records = [UsageDay(product_code=p, dimension_key=d, usage_date=_as_date(day_value), quantity=q)
               for p, d, day_value, q in rows]
    return sorted(records, key=lambda r: (r.product_code, r.dimension_key, r.usage_date))


def hours_named_in(details: dict[str, Any], scope: CaseScope) -> list[datetime]:
    """Hours (UTC, truncated) that an exception's details name, inside the usage window.

    Rules name gap hours under keys of their choosing, so every ISO timestamp found in the
    details (nested lists and objects included) is taken."""
    found: set[datetime] = set()
    lo, hi = (at_midnight(d) for d in scope.usage_window)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and _ISO_HOUR.match(value.strip()):
            try:
                moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                return
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
            hour = moment.replace(minute=0, second=0, microsecond=0)
            if lo <= hour < hi:
                found.add(hour)

    walk(details)
    return sorted(found)


def boundary_ranges(scope: CaseScope, hours: int) -> list[tuple[datetime, datetime]]:
    """The first and last `hours` hours of the period, as half-open ranges."""
    start, end = at_midnight(scope.start), at_midnight(scope.end)
    span = timedelta(hours=hours)
    return [(start, start + span), (end - span, end)] if hours > 0 else []


def fetch_usage_hours(session: Session, account_id: int, product_codes: Iterable[str], *,
                      ranges: Iterable[tuple[datetime, datetime]] = (), hours: Iterable[datetime] = (),
                      dimension_key: str | None = None) -> list[UsageHour]:
    """Our hourly rows inside the given ranges and at the given hours (one query)."""
    codes = sorted(set(product_codes))
    hour_list = sorted(set(hours))
    windows = [and_(UsageRecord.usage_hour >= lo, UsageRecord.usage_hour < hi) for lo, hi in ranges]
    if hour_list:
        windows.append(UsageRecord.usage_hour.in_(hour_list))
    if not codes or not windows:
        return []
    query = select(UsageRecord.source_record_id, UsageRecord.product_code, UsageRecord.dimension_key,
                   UsageRecord.usage_hour, UsageRecord.quantity).where(
        UsageRecord.account_id == account_id, UsageRecord.product_code.in_(codes), or_(*windows))
    if dimension_key is not None:
        query = query.where(UsageRecord.dimension_key == dimension_key)
    rows = session.execute(query).all()
    records = [UsageHour(record_id=rid, product_code=p, dimension_key=d, usage_hour=h, quantity=q)
               for rid, p, d, h, q in rows]
    return sorted(records, key=lambda r: (r.product_code, r.dimension_key, r.usage_hour))


_PARTNER_COLUMNS = [c for c in PartnerUsage.__table__.columns if c.key not in ("id", "ingest_batch_id")]


def fetch_partner_usage(session: Session, aws_account_id: str | None, marketplace_product_ids: Iterable[str],
                        window: tuple[date, date], *, feed_ids: Iterable[str] = ()) -> list[PartnerUsageRecord]:
    """The partner's daily usage rows for the account's products within `window` (half-open).

    Rows the exception names by `usage_feed_id` are included when they belong to the account."""
    if not aws_account_id:
        return []
    products = sorted(set(marketplace_product_ids))
    named = sorted(set(feed_ids))
    wanted = []
    if products:
        wanted.append(and_(PartnerUsage.product_id.in_(products), PartnerUsage.usage_date >= window[0],
                           PartnerUsage.usage_date < window[1]))
    if named:
        wanted.append(PartnerUsage.usage_feed_id.in_(named))
    if not wanted:
        return []
    rows = session.execute(
        select(*_PARTNER_COLUMNS).where(PartnerUsage.end_user_account_id == aws_account_id, or_(*wanted))
    ).mappings().all()
    records = [PartnerUsageRecord.model_validate(dict(row)) for row in rows]
    return sorted(records, key=lambda r: (r.product_id, r.dimension_key, r.usage_date, r.region, r.offer_id))


def fetch_metering(session: Session, customer_refs: Iterable[str], product_codes: Iterable[str],
                   period_range: tuple[datetime, datetime], *, dimension_key: str | None = None,
                   include_success: bool = False) -> tuple[list[MeteringStatusCount], list[MeteringResultRecord]]:
    """Per-status counts of the metering records of the period, and the records that failed.

    `include_success` adds the Success rows to the list (the counts always cover every status)."""
    refs, codes = sorted(set(customer_refs)), sorted(set(product_codes))
    if not refs or not codes:
        return [], []
    scope = and_(MeteringResult.customer_ref.in_(refs), MeteringResult.product_code.in_(codes),
                 MeteringResult.timestamp >= period_range[0], MeteringResult.timestamp < period_range[1])
    if dimension_key is not None:
        scope = and_(scope, MeteringResult.dimension == dimension_key)
    counts = [
        MeteringStatusCount(product_code=p, dimension=d, status=s, records=n, quantity=q)
        for p, d, s, n, q in session.execute(
            select(MeteringResult.product_code, MeteringResult.dimension, MeteringResult.status,
                   func.count(), func.sum(MeteringResult.quantity))
            .where(scope).group_by(MeteringResult.product_code, MeteringResult.dimension, MeteringResult.status)
        ).all()
    ]
    counts.sort(key=lambda c: (c.product_code, c.dimension, c.status))
    rows_query = select(MeteringResult).where(scope)
    if not include_success:
        rows_query = rows_query.where(MeteringResult.status != SUCCESS)
    results = [
        MeteringResultRecord(
            product_code=m.product_code, customer_identifier=m.customer_identifier,
            customer_aws_account_id=m.customer_aws_account_id, customer_ref=m.customer_ref,
            license_arn=m.license_arn, dimension=m.dimension, timestamp=m.timestamp, quantity=m.quantity,
            status=m.status, metering_record_id=m.metering_record_id, submitted_at=m.submitted_at,  # type: ignore[arg-type]
        )
        for m in session.scalars(rows_query)
    ]
    results.sort(key=lambda r: (r.product_code, r.dimension, r.timestamp, r.status, r.customer_ref))
    return counts, results
