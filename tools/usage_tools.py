"""Tools about usage: ours and the partner's by day and hour, and AWS's metering answers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from billing.bundles.collect import scope_products
from billing.bundles.fetch.usage import (
    SUCCESS,
    MeteringGroup,
    boundary_ranges,
    fetch_metering,
    fetch_partner_usage_slim,
    fetch_usage_day_sums,
    fetch_usage_hours,
    hours_named_in,
)
from billing.bundles.records import MeteringResultRecord, MeteringStatusCount, UsageHour, usage_day_id
from billing.bundles.scope import BOUNDARY_HOURS, CaseScope, at_midnight
from tools.context import ToolContext
from tools.prefetch import (
    METERING,
    METERING_ROWS_AHEAD,
    NAMED_HOURS,
    PARTNER_USAGE,
    USAGE_DAYS,
    USAGE_HOURS,
    CustomerMetering,
    HourRows,
    WindowRows,
)
from tools.contract_tools import case_contracts, case_products
from tools.registry import tool
from tools.results import (
    MeteringStatusSpan,
    MeteringSummary,
    UsageDayComparison,
    UsageSummary,
    UsageTotal,
)


@tool
def get_usage_summary(
    ctx: ToolContext,
    product_code: Annotated[str | None, Field(description="Only this product (default: the case's products).")] = None,
    dimension_key: Annotated[str | None, Field(description="Only this dimension.")] = None,
    granularity: Annotated[Literal["day", "hour", "both"], Field(
        description="day: our daily sums against the partner's daily feed; hour: our hourly rows at the "
                    "period boundaries and at hours the exception names; both.")] = "both",
    boundary_hours: Annotated[int, Field(ge=1, le=72, description="Hours shown at each end of the period.")]
    = BOUNDARY_HOURS,
    all_days: Annotated[bool, Field(description="List every day, not only those that differ or sit at "
                                                "the boundary.")] = False,
) -> UsageSummary:
    """Our metered usage against the partner's daily usage feed for the period: totals per
    dimension (partner − ours), the days that differ and the boundary days (from the day
    before the period to the day after), and our hourly rows around 00:00 UTC at both ends
    of the period (AWS cuts periods at 00:00 UTC)."""
    scope = ctx.scope()
    codes = [product_code] if product_code else scope_products(scope, case_contracts(ctx))
    mp_by_code = {p.product_code: p.marketplace_product_id for p in case_products(ctx)}
    lo, hi = scope.usage_window
    named = hours_named_in(scope.details, scope)
    days: list[tuple[str, str, date, Decimal]] = []
    partner: list[tuple[str, str, str, date, Decimal, Decimal | None]] = []
    hours = []
    days_key: tuple[object, ...] | None = None
    if scope.account_id is not None and codes:
        account_id, window = scope.account_id, scope.usage_window
        days = ctx.shared_value(("usage_day_sums", account_id, tuple(codes), window),
                                lambda: usage_day_sums(ctx, account_id, codes, window))
        mps = tuple(sorted(mp_by_code[c] for c in codes if mp_by_code.get(c)))
        partner = ctx.shared_value(("partner_usage_slim", scope.aws_account_id, mps, window),
                                   lambda: partner_usage_rows(ctx, scope.aws_account_id, mps, window))
        days_key = (account_id, tuple(codes), window, scope.aws_account_id, mps, scope.period)
        if granularity != "day":
            dims = tuple(sorted({d for _, d, _, _ in days if dimension_key in (None, d)}))
            ranges = tuple(boundary_ranges(scope, boundary_hours))
            # The boundary hours are the same for every case of the account and product: shared.
            hours = ctx.shared_value(("usage_hours", account_id, tuple(codes), dims, ranges),
                                     lambda: usage_hours_ahead(ctx, account_id, codes, dims, ranges=ranges))
            inside = {h for lo_h, hi_h in ranges for h in named if lo_h <= h < hi_h}
            if extra := [h for h in named if h not in inside]:
                hours = sorted([*hours, *usage_hours_ahead(ctx, account_id, codes, dims, hours=extra)],
                               key=lambda r: (r.product_code, r.dimension_key, r.usage_hour))
    if dimension_key is not None:
        days = [d for d in days if d[1] == dimension_key]
        partner = [p for p in partner if p[2] == dimension_key]
    code_by_mp = {mp: code for code, mp in mp_by_code.items() if mp}
    if dimension_key is None and days_key is not None:
        # The day-by-day table depends only on the rows (shared by the cases of the account and
        # products): built once per batch, each case then picks the days it shows.
        table = ctx.shared_value(("usage_day_table", *days_key, tuple(sorted(code_by_mp.items()))),
                                 lambda: DayTable(days, partner, code_by_mp, scope.start, scope.end))
    else:
        table = DayTable(days, partner, code_by_mp, scope.start, scope.end)
    always = _always_shown(scope, named)
    shown = [table.comparison(key) for key in table.keys if all_days or table.differs(key) or key[2] in always]
    compared = len(table.keys)
    totals = table.totals
    return UsageSummary(
        period=scope.period, window_start=lo, window_end=hi - timedelta(days=1),
        totals=[UsageTotal.model_construct(product_code=code, dimension_key=dim, ours=o, partner=t, difference=t - o)
                for (code, dim), (o, t) in sorted(totals.items())],
        daily=shown if granularity != "hour" else [],
        days_agreeing_omitted=compared - len(shown) if granularity != "hour" else 0,
        ours_hourly=hours,
        hours_named_by_exception=named,
    )


def usage_day_sums(ctx: ToolContext, account_id: int, codes: Sequence[str],
                   window: tuple[date, date]) -> list[tuple[str, str, date, Decimal]]:
    """`fetch_usage_day_sums`, sliced from the account's rows when a batch read them ahead."""
    ahead = ctx.shared.pinned((USAGE_DAYS, account_id, window)) if ctx.shared is not None else None
    if not isinstance(ahead, WindowRows) or not ahead.covers(window):
        return fetch_usage_day_sums(ctx.session, account_id, codes, window)
    wanted, (lo, hi) = set(codes), window
    # Whole UTC days, each summed over all its hours: a day of the slice is the day of the query.
    return sorted((p, d, day, q) for p, d, day, q in ahead.rows if p in wanted and lo <= day < hi)


def usage_hours_ahead(ctx: ToolContext, account_id: int, codes: Sequence[str], dims: Sequence[str], *,
                      ranges: tuple[tuple[datetime, datetime], ...] = (),
                      hours: Sequence[datetime] = ()) -> list[UsageHour]:
    """`fetch_usage_hours` over `ranges` or at `hours`, sliced from the account's rows when a
    batch read them ahead."""
    key = (USAGE_HOURS, account_id, ranges) if ranges else (NAMED_HOURS, account_id)
    ahead = ctx.shared.pinned(key) if ctx.shared is not None else None
    if isinstance(ahead, HourRows):
        rows = ahead.in_ranges(codes, dims, ranges) if ranges else ahead.at_hours(codes, dims, hours)
        if rows is not None:
            return rows
    return fetch_usage_hours(ctx.session, account_id, codes, dims, ranges=ranges, hours=hours)


def partner_usage_rows(ctx: ToolContext, aws_account_id: str | None, marketplace_product_ids: Sequence[str],
                       window: tuple[date, date]) -> list[tuple[str, str, str, date, Decimal, Decimal | None]]:
    """`fetch_partner_usage_slim`, sliced from the account's rows when a batch read them ahead."""
    if not aws_account_id:
        return []
    ahead = ctx.shared.pinned((PARTNER_USAGE, aws_account_id, window)) if ctx.shared is not None else None
    if not isinstance(ahead, WindowRows) or not ahead.covers(window):
        return fetch_partner_usage_slim(ctx.session, aws_account_id, marketplace_product_ids, window)
    wanted, (lo, hi) = set(marketplace_product_ids), window
    # The same row form as fetch_partner_usage_slim (its id made the same way for rows without one).
    return sorted(
        (feed_id or f"partner-usage:{day.isoformat()}:{product}:{user}:{dim}:{region}:{offer}", product, dim, day, qty, rate)
        for feed_id, day, product, user, dim, region, offer, qty, rate in ahead.rows
        if product in wanted and lo <= day < hi)


PartnerDay = tuple[str, str, str, date, Decimal, Decimal | None]


class DayTable:
    """Our daily usage against the partner's, per (product, dimension, day): the keys in order,
    the period's totals per dimension, and each day's comparison (built when first shown)."""

    def __init__(self, days: Sequence[tuple[str, str, date, Decimal]], partner: Sequence[PartnerDay],
                 code_by_mp: dict[str, str], start: date, end: date) -> None:
        self.ours = {(code, dim, day): qty for code, dim, day, qty in days}
        self.theirs: dict[tuple[str, str, date], list[PartnerDay]] = defaultdict(list)
        for p in partner:
            self.theirs[(code_by_mp.get(p[1], p[1]), p[2], p[3])].append(p)
        self.keys = sorted(set(self.ours) | set(self.theirs))
        self.seen = {key: sum((p[4] for p in self.theirs.get(key, ())), Decimal(0)) for key in self.keys}
        totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for key in self.keys:
            code, dim, day = key
            if start <= day < end:
                totals[(code, dim)][0] += self.ours.get(key, Decimal(0))
                totals[(code, dim)][1] += self.seen[key]
        self.totals = dict(totals)
        self._comparisons: dict[tuple[str, str, date], UsageDayComparison] = {}

    def differs(self, key: tuple[str, str, date]) -> bool:
        """Whether the partner's quantity of that day is not ours."""
        return self.seen[key] != self.ours.get(key, Decimal(0))

    def comparison(self, key: tuple[str, str, date]) -> UsageDayComparison:
        """The day's comparison (the same object for every case that shows it)."""
        found = self._comparisons.get(key)
        if found is None:
            found = self._comparisons[key] = _comparison(key, self.ours.get(key, Decimal(0)), self.seen[key],
                                                         self.theirs.get(key, []))
        return found


def _always_shown(scope: CaseScope, named: list[datetime]) -> set[date]:
    # The boundary days (where timing differences live) and the days the exception names.
    lo, hi = scope.usage_window
    return {lo, scope.start, scope.end - timedelta(days=1), hi - timedelta(days=1)} | {h.date() for h in named}


def _comparison(key: tuple[str, str, date], mine: Decimal, seen: Decimal,
                rows: list[tuple[str, str, str, date, Decimal, Decimal | None]]) -> UsageDayComparison:
    code, dim, day = key
    return UsageDayComparison.model_construct(
        id=usage_day_id(code, dim, day),
        usage_date=day, product_code=code, dimension_key=dim, ours=mine, partner=seen, difference=seen - mine,
        partner_rates=sorted({p[5] for p in rows if p[5] is not None}), partner_row_ids=[p[0] for p in rows])


@tool
def get_metering_results(
    ctx: ToolContext,
    dimension_key: Annotated[str | None, Field(
        description="This dimension (default: the exception's dimension, or every one when it names none).")] = None,
    all_dimensions: Annotated[bool, Field(description="Every dimension of the case's products.")] = False,
    limit: Annotated[int, Field(ge=1, le=500, description="At most this many records not accepted.")]
    = METERING_ROWS_AHEAD,
) -> MeteringSummary:
    """What AWS answered to our BatchMeterUsage calls for the case's products in the period:
    per status (Success, CustomerNotSubscribed, DuplicateRecord, Unprocessed) the count,
    quantity and first/last hour, and the records that were not Success, earliest first."""
    scope = ctx.scope()
    codes = scope_products(scope, case_contracts(ctx))
    if dimension_key is None and not all_dimensions:
        dimension_key = scope.dimension_key
    refs, span = tuple(scope.customer_refs()), (at_midnight(scope.start), at_midnight(scope.end))
    groups, failed = ctx.shared_value(
        ("metering", refs, tuple(codes), span, dimension_key, limit),
        lambda: metering_of(ctx, refs, codes, span, dimension_key, limit))
    not_success = sum(g.count.records for g in groups if g.count.status != "Success")
    return MeteringSummary(
        status_counts=[MeteringStatusSpan(**g.count.model_dump(), first_timestamp=g.first, last_timestamp=g.last)
                       for g in groups],
        not_accepted=failed, truncated=not_success > len(failed))


def metering_of(ctx: ToolContext, refs: Sequence[str], codes: Sequence[str], span: tuple[datetime, datetime],
                dimension_key: str | None, limit: int) -> tuple[list[MeteringGroup], list[MeteringResultRecord]]:
    """`fetch_metering`, summed from the customers' answers when a batch read them ahead."""
    refs = sorted(set(refs))
    pinned = [ctx.shared.pinned((METERING, ref, span)) if ctx.shared is not None else None for ref in refs]
    if not refs or not codes or not all(isinstance(p, CustomerMetering) and p.rows_ahead >= limit for p in pinned):
        return fetch_metering(ctx.session, refs, codes, span, dimension_key=dimension_key, limit=limit)
    ahead: list[CustomerMetering] = pinned  # type: ignore[assignment]  # checked just above
    wanted = set(codes)

    def mine(product: str, dimension: str) -> bool:
        return product in wanted and dimension_key in (None, dimension)

    totals: dict[tuple[str, str, str], list[Any]] = {}
    for answers in ahead:
        for p, d, status, n, q, first, last in answers.counts:
            if mine(p, d):
                seen = totals.get((p, d, status))
                if seen is None:
                    totals[(p, d, status)] = [n, q, first, last]
                else:
                    seen[0], seen[1] = seen[0] + n, seen[1] + q
                    seen[2], seen[3] = min(seen[2], first), max(seen[3], last)
    groups = [MeteringGroup(MeteringStatusCount.from_db(product_code=p, dimension=d, status=s, records=n, quantity=q),
                            first, last) for (p, d, s), (n, q, first, last) in sorted(totals.items())]
    if all(g.count.status == SUCCESS for g in groups):
        return groups, []
    failed = sorted((r for answers in ahead for r in answers.failed if mine(r.product_code, r.dimension)),
                    key=lambda r: (r.timestamp, r.dimension, r.status, r.customer_ref, r.product_code))[:limit]
    failed.sort(key=lambda r: (r.product_code, r.dimension, r.timestamp, r.status, r.customer_ref))
    return groups, failed
