"""The partner's view of usage: AWS's daily usage feed (`dailyusagefeed_v1`), per account ×
product × dimension × UTC day, from what AWS accepted (faults included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from billing.money import quantize
from billing.scenarios.calendar import period_of
from billing.scenarios.world import UsageKey, World

Daily = dict[UsageKey, dict[date, int]]


def partner_daily(world: World) -> Daily:
    """Partner quantities per contract × dimension × day, inside the delivered feed window."""
    window = set(world.timeline.periods)
    out: Daily = {}
    for key, hours in world.partner.items():
        shifts = world.partner_shift.get(key, {})
        days: dict[date, int] = {}
        for hour, quantity in enumerate(hours):
            if not quantity:
                continue
            day = shifts[hour] if hour in shifts else world.timeline.day_of(hour)
            if day is None or period_of(day) not in window:
                continue
            days[day] = days.get(day, 0) + quantity
        out[key] = dict(sorted(days.items()))
    return out


def billed_quantity(daily: Daily, key: UsageKey, period: str) -> int:
    """What the partner counted for a contract × dimension in a month."""
    return sum(q for d, q in daily.get(key, {}).items() if period_of(d) == period)


def feed_rows(world: World, daily: Daily) -> list[dict[str, str]]:
    """The feed's rows (AWS column names), ordered by day, product, account, dimension."""
    rows: list[tuple[tuple[str, str, str, str], dict[str, str]]] = []
    for (contract_key, dimension), days in daily.items():
        c = world.contract(contract_key)
        dim = c.product.dimension(dimension)
        for day, quantity in days.items():
            rate = world.billed_rate(c, dimension, period_of(day))
            day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)
            revenue = quantize(Decimal(quantity) * rate, c.currency)
            row = {
                "usage_feed_id": "",
                "usage_date": day.isoformat(),
                "product_id": c.product.marketplace_product_id,
                "agreement_id": world.agreement_in_force(c, day_end) or "",
                "end_user_account_id": c.account.aws_account_id or "",
                "payer_account_id": c.account.aws_account_id or "",
                "region": c.account.country.region,
                "dimension_key": dimension,
                "usage_unit": dim.unit,
                "usage_quantity": str(quantity),
                "pricing_currency": c.currency,
                "usage_rate_per_unit_in_pricing_currency": format(rate, "f"),
                "estimated_revenue_in_pricing_currency": format(revenue, "f"),
                "offer_id": c.offer_id or "",
                "recipient_account_id": world.seller_account_id,
                "charge_item_description": f"{c.product.title} - {dim.description}",
                "catalog": "AWSMarketplace",
            }
            rows.append(
                ((day.isoformat(), c.product.product_code, c.account.account_key, dimension), row)
            )
    rows.sort(key=lambda item: item[0])
    for _, row in rows:
        row["usage_feed_id"] = world.ids.usage_feed_id()
    return [row for _, row in rows]
