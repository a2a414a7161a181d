"""Rule `usage_vs_partner_usage`: our metered usage vs the partner's daily usage feed.

Compares Σ quantity per account × product × dimension × month of `usage_records` (our
metering, AWS-channel contracts only) with `partner_usage` (AWS `dailyusagefeed_v1`), and
raises `usage_shortfall` when the partner saw less than we metered, `usage_excess` when it
saw more. Both sides are aggregated in SQL and compared on the aggregates; only the
differences come back, with the evidence the agent needs to tell the causes apart:

- the days with the largest gaps (dropped hours, feed gaps);
- usage in the hours near the month's edges and the partner's first day of the next month
  (AWS cuts at 00:00 UTC: late records land in the next month — a timing difference);
- whether the account's total over the product's dimensions agrees (a wrong dimension
  moves quantity between dimensions and leaves the total unchanged).

A month is compared only when both sides hold usage for it (neither feed still missing).
Amounts are quantity × the contracted rate of the dimension.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Numeric,
    and_,
    case,
    cast,
    exists,
    func,
    literal_column,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from billing.models import Account, ContractRate, PartnerUsage, Product, UsageRecord
from billing.reconcile.config import ReconcileSettings, current
from billing.reconcile.contracts_in_force import (
    AWS_CHANNELS,
    contracts_in_force,
    is_account_of,
    rate_join,
)
from billing.reconcile.evidence import as_date, exact, text, value_of
from billing.reconcile.findings import Finding
from billing.reconcile.periods import Period, has_usage, period_bounds
from billing.reconcile.sql import batches, id_list, rounded_gap, split_ids, utc_day

RULE = "usage_vs_partner_usage"

_ZERO = cast(literal_column("0"), Numeric(20, 6))


@dataclass
class _Gap:
    """One compared key whose two sides differ, and the evidence gathered for it."""

    aws_account_id: str
    marketplace_product_id: str
    dimension_key: str
    ours: Decimal
    partner: Decimal
    ours_total: Decimal
    partner_total: Decimal
    account_id: int | None
    account_key: str | None
    product_code: str | None
    contract_key: str | None
    channel: str | None
    currency: str | None
    unit_price: Decimal | None
    our_days: dict[date, Decimal] = field(default_factory=dict)
    partner_days: dict[date, Decimal] = field(default_factory=dict)
    first_hours: Decimal = Decimal(0)
    last_hours: Decimal = Decimal(0)
    partner_ids: list[str] = field(default_factory=list)
    usage_ids: list[str] = field(default_factory=list)
    daily: list[dict[str, Any]] = field(default_factory=list)
    top_days: list[dict[str, Any]] = field(default_factory=list)

    @property
    def our_key(self) -> tuple[int, str, str] | None:
        if self.account_id is None or self.product_code is None:
            return None
        return (self.account_id, self.product_code, self.dimension_key)


def find(session: Session, period: str) -> Iterator[Finding]:
    """The usage differences of `period` (see the module docstring)."""
    settings = current()
    bounds = period_bounds(period)
    if not _both_sides_have_usage(session, bounds):
        return
    gaps = [_gap(row) for row in session.execute(_comparison(bounds, settings.usage_quantity_tolerance))]
    if not gaps:
        return
    _attach_days(session, bounds, settings.boundary_hours, gaps)
    for gap in gaps:
        gap.daily = _daily_gaps(gap, bounds)
        gap.top_days = sorted((d for d in gap.daily if d["gap_value"] != 0),
                              key=lambda d: (-abs(d["gap_value"]), d["day"]))[: settings.gap_days_reported]
    _attach_top_day_ids(session, bounds, gaps)
    for gap in sorted(gaps, key=lambda g: (g.aws_account_id, g.marketplace_product_id, g.dimension_key)):
        yield _finding(gap, bounds, settings)


def _both_sides_have_usage(session: Session, bounds: Period) -> bool:
    theirs = exists().where(PartnerUsage.usage_date >= bounds.first_day, PartnerUsage.usage_date <= bounds.last_day)
    return has_usage(session, bounds) and bool(session.execute(select(theirs)).scalar())


def _comparison(bounds: Period, tolerance: Decimal) -> Any:
    """Both sides aggregated per (AWS account id, marketplace product id, dimension), joined on
    the aggregates through a UNION ALL + GROUP BY (a portable full outer join), with the
    account's totals over dimensions as window sums, filtered to the keys that differ."""
    cif = contracts_in_force(bounds.name, AWS_CHANNELS)
    ours = (
        select(UsageRecord.account_id, UsageRecord.product_code, UsageRecord.dimension_key,
               func.sum(UsageRecord.quantity).label("qty"))
        .where(UsageRecord.usage_hour >= bounds.start, UsageRecord.usage_hour < bounds.end)
        .group_by(UsageRecord.account_id, UsageRecord.product_code, UsageRecord.dimension_key)
        .subquery("ours")
    )
    ours_keyed = (
        select(cif.c.aws_account_id.label("aws_account_id"), cif.c.marketplace_product_id.label("mp_product"),
               ours.c.dimension_key.label("dimension_key"), ours.c.qty.label("ours"), _ZERO.label("partner"))
        .join_from(ours, cif, and_(cif.c.account_id == ours.c.account_id, cif.c.product_code == ours.c.product_code))
        .where(cif.c.aws_account_id.is_not(None), cif.c.marketplace_product_id.is_not(None))
    )
    theirs = (
        select(PartnerUsage.end_user_account_id, PartnerUsage.product_id, PartnerUsage.dimension_key, _ZERO,
               func.sum(PartnerUsage.usage_quantity))
        .where(PartnerUsage.usage_date >= bounds.first_day, PartnerUsage.usage_date <= bounds.last_day)
        .group_by(PartnerUsage.end_user_account_id, PartnerUsage.product_id, PartnerUsage.dimension_key)
    )
    both = union_all(ours_keyed, theirs).subquery("both_sides")
    keys = [both.c.aws_account_id, both.c.mp_product, both.c.dimension_key]
    combined = (select(*keys, func.sum(both.c.ours).label("ours"), func.sum(both.c.partner).label("partner"))
                .group_by(*keys).subquery("combined"))
    account_product = [combined.c.aws_account_id, combined.c.mp_product]
    windowed = select(
        combined,
        func.sum(combined.c.ours).over(partition_by=account_product).label("ours_total"),
        func.sum(combined.c.partner).over(partition_by=account_product).label("partner_total"),
    ).subquery("windowed")
    w = windowed.c
    return (
        select(w.aws_account_id, w.mp_product, w.dimension_key, w.ours, w.partner, w.ours_total,
               w.partner_total, Account.id.label("account_id"), Product.product_code, cif.c.account_key,
               cif.c.contract_key, cif.c.channel, cif.c.currency, ContractRate.unit_price)
        .select_from(windowed)
        .outerjoin(Account, is_account_of(w.aws_account_id))
        .outerjoin(Product, Product.marketplace_product_id == w.mp_product)
        .outerjoin(cif, and_(cif.c.account_id == Account.id, cif.c.product_id == Product.id))
        .outerjoin(ContractRate, rate_join(cif.c.contract_id, w.dimension_key))
        .where(rounded_gap(w.ours, w.partner) > tolerance)
    )


def _gap(row: Any) -> _Gap:
    return _Gap(
        aws_account_id=row.aws_account_id, marketplace_product_id=row.mp_product, dimension_key=row.dimension_key,
        ours=exact(row.ours), partner=exact(row.partner), ours_total=exact(row.ours_total),
        partner_total=exact(row.partner_total), account_id=row.account_id, account_key=row.account_key,
        product_code=row.product_code, contract_key=row.contract_key, channel=row.channel,
        currency=row.currency, unit_price=None if row.unit_price is None else Decimal(str(row.unit_price)),
    )


def _attach_days(session: Session, bounds: Period, hours: int, gaps: list[_Gap]) -> None:
    """Daily sums of both sides for the differing keys only, from the day before the month to
    the day after it (the neighbours show late or early reporting), and our usage in the
    first and last `hours` hours of the month, summed per day in the same pass."""
    u, pu = UsageRecord, PartnerUsage
    day = utc_day(u.usage_hour)
    head_end, tail_start = bounds.start + timedelta(hours=hours), bounds.end - timedelta(hours=hours)
    in_head = and_(u.usage_hour >= bounds.start, u.usage_hour < head_end)
    in_tail = and_(u.usage_hour >= tail_start, u.usage_hour < bounds.end)
    ours_by_key = {g.our_key: g for g in gaps if g.our_key is not None}
    for keys in batches(sorted(ours_by_key)):  # type: ignore[type-var]
        ours = (
            select(u.account_id, u.product_code, u.dimension_key, day.label("day"), func.sum(u.quantity).label("qty"),
                   func.sum(case((in_head, u.quantity), else_=0)).label("head"),
                   func.sum(case((in_tail, u.quantity), else_=0)).label("tail"))
            # account_id IN seeks the unique index (account, product, dimension, hour); the
            # row-value IN then keeps only the differing keys (SQLite cannot seek on it).
            .where(u.account_id.in_(sorted({k[0] for k in keys})),
                   tuple_(u.account_id, u.product_code, u.dimension_key).in_(keys),
                   u.usage_hour >= bounds.start - timedelta(days=1), u.usage_hour < bounds.end + timedelta(days=1))
            .group_by(u.account_id, u.product_code, u.dimension_key, day)
        )
        for row in session.execute(ours):
            gap = ours_by_key[(row.account_id, row.product_code, row.dimension_key)]
            gap.our_days[as_date(row.day)] = exact(row.qty)  # type: ignore[index]
            gap.first_hours += exact(row.head)
            gap.last_hours += exact(row.tail)
    partner_by_key = {(g.aws_account_id, g.marketplace_product_id, g.dimension_key): g for g in gaps}
    for keys in batches(sorted(partner_by_key)):
        partner = (
            select(pu.end_user_account_id, pu.product_id, pu.dimension_key, pu.usage_date,
                   func.sum(pu.usage_quantity).label("qty"), id_list(pu.id).label("ids"))
            .where(tuple_(pu.end_user_account_id, pu.product_id, pu.dimension_key).in_(keys),
                   pu.usage_date >= bounds.first_day - timedelta(days=1),
                   pu.usage_date <= bounds.last_day + timedelta(days=1))
            .group_by(pu.end_user_account_id, pu.product_id, pu.dimension_key, pu.usage_date)
        )
        for row in session.execute(partner):
            gap = partner_by_key[(row.end_user_account_id, row.product_id, row.dimension_key)]
            usage_date: date = as_date(row.usage_date)  # type: ignore[assignment]
            gap.partner_days[usage_date] = exact(row.qty)
            if bounds.first_day <= usage_date <= bounds.last_day:
                gap.partner_ids.append(row.ids or "")


def _attach_top_day_ids(session: Session, bounds: Period, gaps: list[_Gap]) -> None:
    """Ids of our usage rows on each key's largest-gap days: a second, narrow pass over those days only."""
    u = UsageRecord
    day = utc_day(u.usage_hour)
    by_key = {g.our_key: g for g in gaps if g.our_key is not None and g.top_days}
    wanted = sorted((*key, date.fromisoformat(d["day"])) for key, g in by_key.items() for d in g.top_days)
    for days in batches(wanted):  # type: ignore[type-var]
        query = (
            select(u.account_id, u.product_code, u.dimension_key, id_list(u.id).label("ids"))
            .where(u.account_id.in_(sorted({d[0] for d in days})),
                   tuple_(u.account_id, u.product_code, u.dimension_key, day).in_(days),
                   u.usage_hour >= bounds.start, u.usage_hour < bounds.end)
            .group_by(u.account_id, u.product_code, u.dimension_key)
        )
        for row in session.execute(query):
            by_key[(row.account_id, row.product_code, row.dimension_key)].usage_ids.append(row.ids or "")


def _finding(gap: _Gap, bounds: Period, settings: ReconcileSettings) -> Finding:
    delta = gap.partner - gap.ours
    kind = "usage_shortfall" if delta < 0 else "usage_excess"
    prev_day, next_day = bounds.first_day - timedelta(days=1), bounds.last_day + timedelta(days=1)
    our_next = gap.our_days.get(next_day, Decimal(0))
    partner_next = gap.partner_days.get(next_day, Decimal(0))
    limit = settings.max_record_refs
    refs: dict[str, list[str]] = {"partner_usage": split_ids(",".join(gap.partner_ids), limit),
                                  "usage_records": split_ids(",".join(gap.usage_ids), limit)}
    if gap.contract_key:
        refs["contracts"] = [gap.contract_key]
    who = gap.account_key or f"AWS account {gap.aws_account_id}"
    what = f"{gap.product_code or gap.marketplace_product_id}/{gap.dimension_key}"
    seen = "less" if delta < 0 else "more"
    return Finding(
        rule=RULE, kind=kind, period=bounds.name, channel=gap.channel or "aws_marketplace",
        account_id=gap.account_id,
        key_parts=_key_parts(gap),
        description=(f"The partner's usage feed shows {text(gap.partner)} {gap.dimension_key} for {who} "
                     f"{what} in {bounds.name}; we metered {text(gap.ours)} — the partner saw {seen} "
                     f"({text(delta)})."),
        product_code=gap.product_code, dimension_key=gap.dimension_key, currency=gap.currency,
        expected_amount=value_of(gap.ours, gap.unit_price), observed_amount=value_of(gap.partner, gap.unit_price),
        expected_quantity=gap.ours, observed_quantity=gap.partner,
        record_refs={k: v for k, v in refs.items() if v},
        details={
            "our_quantity": text(gap.ours), "partner_quantity": text(gap.partner),
            "tolerance": text(settings.usage_quantity_tolerance),
            "contract_key": gap.contract_key, "unit_price": text(gap.unit_price),
            "aws_account_id": gap.aws_account_id, "marketplace_product_id": gap.marketplace_product_id,
            "days_with_gap": sum(1 for d in gap.daily if d["gap_value"] != 0),
            "largest_gap_days": [{k: v for k, v in d.items() if k != "gap_value"} for d in gap.top_days],
            "boundary": {
                "hours": settings.boundary_hours,
                "our_first_hours_quantity": text(gap.first_hours),
                "our_last_hours_quantity": text(gap.last_hours),
                "partner_previous_day_quantity": text(gap.partner_days.get(prev_day, Decimal(0))),
                "our_next_day_quantity": text(our_next),
                "partner_next_day_quantity": text(partner_next),
                # The partner's surplus on the next month's first day: what a late cut-off moves there.
                "partner_next_day_surplus": text(partner_next - our_next),
            },
            "account_product_total": {
                "ours": text(gap.ours_total), "partner": text(gap.partner_total),
                "agrees": abs(gap.partner_total - gap.ours_total) <= settings.usage_quantity_tolerance,
            },
            "has_contract": gap.contract_key is not None,
        },
    )


def _key_parts(gap: _Gap) -> tuple[str, ...]:
    product = gap.product_code or f"mp:{gap.marketplace_product_id}"
    if gap.account_id is None:  # the partner names an AWS account we do not know
        return (product, gap.dimension_key, f"aws:{gap.aws_account_id}")
    return (product, gap.dimension_key)


def _daily_gaps(gap: _Gap, bounds: Period) -> list[dict[str, Any]]:
    rows = []
    for day in bounds.days:
        ours, partner = gap.our_days.get(day, Decimal(0)), gap.partner_days.get(day, Decimal(0))
        rows.append({"day": day.isoformat(), "ours": text(ours), "partner": text(partner),
                     "gap": text(partner - ours), "gap_value": partner - ours})
    return rows
