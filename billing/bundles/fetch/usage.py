"""Queries for usage: ours by day and by hour, the partner's daily feed, and metering results.

Sums are computed in SQL (GROUP BY on the indexed natural key), so a month of hourly rows
costs one query, not 720 objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

from billing.bundles.fetch.sql import dialect, fetch_rows, prepared
from billing.bundles.records import (
    MeteringResultRecord,
    MeteringStatusCount,
    PartnerUsageRecord,
    UsageDay,
    UsageHour,
)
from billing.bundles.scope import CaseScope, at_midnight
from billing.models import MeteringResult, PartnerUsage, UsageRecord

SUCCESS = "Success"
#: Records AWS did not accept, spelled inline (not as a bound value) so that the planners match
#: the partial index `ix_metering_results_not_accepted`, whose condition this is.
NOT_ACCEPTED = MeteringResult.status != literal_column(f"'{SUCCESS}'")
# An ISO timestamp inside an exception's details (hours the rule names: gaps, missing hours...).
_ISO_HOUR = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def utc_day(dialect_name: str, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, on SQLite and PostgreSQL alike."""
    if dialect_name == "postgresql":
        return func.date(func.timezone("UTC", column))
    # SQLite keeps UTC timestamps as naive ISO text: the day is its first ten characters
    # (cheaper than date(), which parses every row).
    return func.substr(column, 1, 10)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _usage_days_stmt(dialect_name: str) -> Any:
    day = utc_day(dialect_name, UsageRecord.usage_hour).label("day")
    return (select(UsageRecord.product_code, UsageRecord.dimension_key, day, func.sum(UsageRecord.quantity))
            .where(UsageRecord.account_id == bindparam("account_id"),
                   UsageRecord.product_code.in_(bindparam("codes", expanding=True)),
                   UsageRecord.usage_hour >= bindparam("lo"), UsageRecord.usage_hour < bindparam("hi"))
            .group_by(UsageRecord.product_code, UsageRecord.dimension_key, day))


def fetch_usage_day_sums(session: Session, account_id: int, product_codes: Iterable[str],
                         window: tuple[date, date]) -> list[tuple[str, str, date, Decimal]]:
    """Our usage per (product, dimension, UTC day) within `window` (half-open), sorted; zero days included."""
    codes = sorted(set(product_codes))
    if not codes:
        return []
    name = dialect(session)
    stmt = prepared(("usage_days", name), lambda: _usage_days_stmt(name))
    rows = fetch_rows(session, stmt, account_id=account_id, codes=codes, lo=at_midnight(window[0]),
                      hi=at_midnight(window[1]))
    return sorted((p, d, _as_date(day), q) for p, d, day, q in rows)


def fetch_usage_days(session: Session, account_id: int, product_codes: Iterable[str],
                     window: tuple[date, date]) -> list[UsageDay]:
    """Our usage per product × dimension × UTC day within `window` (half-open), zero days included."""
    return [UsageDay.from_db(product_code=p, dimension_key=d, usage_date=day, quantity=q)
            for p, d, day, q in fetch_usage_day_sums(session, account_id, product_codes, window)]


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
                moment = datetime.fromisoformat(value.strip())  # Python 3.11 reads a trailing Z
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


#: Hour ranges one hourly query takes (the period's two boundaries); fewer are padded with empty ones.
MAX_RANGES = 2


def _usage_hours_stmt() -> Any:
    # One SELECT per range, glued with UNION ALL: each branch can use the natural-key index
    # (account, product, dimension, hour) down to the hour range; an OR of ranges cannot.
    def branch(condition: Any) -> Any:
        return select(UsageRecord.source_record_id, UsageRecord.product_code, UsageRecord.dimension_key,
                      UsageRecord.usage_hour, UsageRecord.quantity).where(
            UsageRecord.account_id == bindparam("account_id"),
            UsageRecord.product_code.in_(bindparam("codes", expanding=True)),
            UsageRecord.dimension_key.in_(bindparam("dims", expanding=True)), condition)
    branches = [branch(and_(UsageRecord.usage_hour >= bindparam(f"lo{i}"), UsageRecord.usage_hour < bindparam(f"hi{i}")))
                for i in range(MAX_RANGES)]
    branches.append(branch(UsageRecord.usage_hour.in_(bindparam("hours", expanding=True))))
    return union_all(*branches)


def fetch_usage_hours(session: Session, account_id: int, product_codes: Iterable[str], dimension_keys: Iterable[str],
                      *, ranges: Iterable[tuple[datetime, datetime]] = (),
                      hours: Iterable[datetime] = ()) -> list[UsageHour]:
    """Our hourly rows of the given dimensions inside the given ranges (at most two) and at the given hours."""
    codes, dims = sorted(set(product_codes)), sorted(set(dimension_keys))
    spans = list(ranges)
    if len(spans) > MAX_RANGES:
        raise ValueError(f"at most {MAX_RANGES} hour ranges per query")
    hour_list = sorted(set(hours))
    if not codes or not dims or (not spans and not hour_list):
        return []
    params: dict[str, Any] = {"account_id": account_id, "codes": codes, "dims": dims, "hours": hour_list}
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for i in range(MAX_RANGES):
        params[f"lo{i}"], params[f"hi{i}"] = spans[i] if i < len(spans) else (epoch, epoch)
    seen: dict[tuple[str, str, datetime], UsageHour] = {}
    for rid, p, d, h, q in fetch_rows(session, prepared("usage_hours", _usage_hours_stmt), **params):
        if h.tzinfo is None:  # a UNION loses the column type on SQLite: the text comes back naive
            h = datetime.fromisoformat(str(h)).replace(tzinfo=UTC)
        seen.setdefault((p, d, h), UsageHour.from_db(record_id=rid, product_code=p, dimension_key=d, usage_hour=h,
                                                    quantity=q))
    return sorted(seen.values(), key=lambda r: (r.product_code, r.dimension_key, r.usage_hour))


_PARTNER_COLUMNS = [c for c in PartnerUsage.__table__.columns if c.key not in ("id", "ingest_batch_id")]


def fetch_partner_usage_slim(session: Session, aws_account_id: str | None, marketplace_product_ids: Iterable[str],
                             window: tuple[date, date]) -> list[tuple[str, str, str, date, Decimal, Decimal | None]]:
    """The partner's daily rows as (id, product_id, dimension_key, usage_date, quantity, rate): what a
    day-by-day comparison needs, without building full records."""
    if not aws_account_id:
        return []
    stmt = prepared("partner_usage_slim", lambda: select(
        PartnerUsage.usage_feed_id, PartnerUsage.usage_date, PartnerUsage.product_id, PartnerUsage.end_user_account_id,
        PartnerUsage.dimension_key, PartnerUsage.region, PartnerUsage.offer_id, PartnerUsage.usage_quantity,
        PartnerUsage.usage_rate_per_unit_in_pricing_currency).where(
        PartnerUsage.end_user_account_id == bindparam("aws_id"),
        PartnerUsage.product_id.in_(bindparam("products", expanding=True)),
        PartnerUsage.usage_date >= bindparam("lo"), PartnerUsage.usage_date < bindparam("hi")))
    rows = fetch_rows(session, stmt, aws_id=aws_account_id, products=sorted(set(marketplace_product_ids)),
                      lo=window[0], hi=window[1])
    return sorted(
        (feed_id or f"partner-usage:{day.isoformat()}:{product}:{user}:{dim}:{region}:{offer}", product, dim, day, qty, rate)
        for feed_id, day, product, user, dim, region, offer, qty, rate in rows)


def fetch_partner_usage(session: Session, aws_account_id: str | None, marketplace_product_ids: Iterable[str],
                        window: tuple[date, date], *, feed_ids: Iterable[str] = ()) -> list[PartnerUsageRecord]:
    """The partner's daily usage rows for the account's products within `window` (half-open).

    Rows the exception names by `usage_feed_id` are included when they belong to the account."""
    if not aws_account_id:
        return []
    stmt = prepared("partner_usage", lambda: select(*_PARTNER_COLUMNS).where(
        PartnerUsage.end_user_account_id == bindparam("aws_id"),
        or_(and_(PartnerUsage.product_id.in_(bindparam("products", expanding=True)),
                 PartnerUsage.usage_date >= bindparam("lo"), PartnerUsage.usage_date < bindparam("hi")),
            PartnerUsage.usage_feed_id.in_(bindparam("named", expanding=True)))))
    rows = fetch_rows(session, stmt, aws_id=aws_account_id, products=sorted(set(marketplace_product_ids)),
                      lo=window[0], hi=window[1], named=sorted(set(feed_ids)))
    records = [PartnerUsageRecord.from_db(**row._mapping) for row in rows]
    return sorted(records, key=lambda r: (r.product_id, r.dimension_key, r.usage_date, r.region, r.offer_id))


METERING_COLUMNS = [c for c in MeteringResult.__table__.columns if c.key not in ("id", "ingest_batch_id")]


def _metering_scope(by_dimension: bool) -> Any:
    scope = and_(MeteringResult.customer_ref.in_(bindparam("refs", expanding=True)),
                 MeteringResult.product_code.in_(bindparam("codes", expanding=True)),
                 MeteringResult.timestamp >= bindparam("lo"), MeteringResult.timestamp < bindparam("hi"))
    return and_(scope, MeteringResult.dimension == bindparam("dimension")) if by_dimension else scope


@dataclass(frozen=True)
class MeteringGroup:
    """One product × dimension × status of the period's metering: its count and quantity, first and last hour."""

    count: MeteringStatusCount
    first: datetime
    last: datetime


def fetch_metering(session: Session, customer_refs: Iterable[str], product_codes: Iterable[str],
                   period_range: tuple[datetime, datetime], *, dimension_key: str | None = None,
                   limit: int | None = None) -> tuple[list[MeteringGroup], list[MeteringResultRecord]]:
    """Per-status counts of the period's metering records, and the records that were not `Success`
    (the first `limit` of them by time, or all)."""
    refs, codes = sorted(set(customer_refs)), sorted(set(product_codes))
    if not refs or not codes:
        return [], []
    by_dim = dimension_key is not None
    params: dict[str, Any] = {"refs": refs, "codes": codes, "lo": period_range[0], "hi": period_range[1]}
    if by_dim:
        params["dimension"] = dimension_key
    counts_stmt = prepared(("metering_counts", by_dim), lambda: (
        select(MeteringResult.product_code, MeteringResult.dimension, MeteringResult.status,
               func.count(), func.sum(MeteringResult.quantity), func.min(MeteringResult.timestamp),
               func.max(MeteringResult.timestamp))
        .where(_metering_scope(by_dim))
        .group_by(MeteringResult.product_code, MeteringResult.dimension, MeteringResult.status)))
    groups = [MeteringGroup(MeteringStatusCount.from_db(product_code=p, dimension=d, status=s, records=n, quantity=q),
                            as_utc(first), as_utc(last))
              for p, d, s, n, q, first, last in fetch_rows(session, counts_stmt, **params)]
    groups.sort(key=lambda g: (g.count.product_code, g.count.dimension, g.count.status))
    if all(g.count.status == SUCCESS for g in groups):
        return groups, []  # nothing to list: skip the second query
    params["limit"] = limit if limit is not None else -1  # LIMIT -1: no limit (SQLite); None on PostgreSQL
    if dialect(session) == "postgresql" and limit is None:
        params["limit"] = None
    rows_stmt = prepared(("metering_rows", by_dim), lambda: (
        select(*METERING_COLUMNS).where(_metering_scope(by_dim), NOT_ACCEPTED)
        .order_by(MeteringResult.timestamp, MeteringResult.dimension, MeteringResult.status,
                  MeteringResult.customer_ref, MeteringResult.product_code)
        .limit(bindparam("limit"))))
    results = [MeteringResultRecord.from_db(**row._mapping) for row in fetch_rows(session, rows_stmt, **params)]
    results.sort(key=lambda r: (r.product_code, r.dimension, r.timestamp, r.status, r.customer_ref))
    return groups, results


def as_utc(value: Any) -> datetime:
    """A timestamp read back as UTC: aggregates (min/max) lose the column type on SQLite, and
    naive text comes back."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
