"""Rule `metering_gaps`: usage that never reached AWS, and days the partner's feed lacks.

Two completeness checks on AWS-channel contracts (aws_marketplace, reseller/CPPO):

- `metering_missing_hours` — hours with usage > 0 in `usage_records` and no `Success`
  metering result for the same product, customer, dimension and hour (DOMAIN.md: AWS
  deduplicates per product/customer/hour/dimension, and records 6 h or more late are
  rejected). One exception per account × product × dimension × month; expected = our
  quantity in those hours, observed = 0 accepted. Checked only when the month holds any
  metering result at all (otherwise the metering export is simply not loaded yet).
- `partner_feed_missing_day` — a calendar day on which a product has usage > 0 with us but
  no row at all in `partner_usage` (AWS `dailyusagefeed_v1`). One exception per product ×
  month listing the days; a day counts once `partner_feed_lag_days` have passed (as_of).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session

from billing.models import Account, ContractRate, MeteringResult, PartnerUsage, Product, UsageRecord
from billing.reconcile.config import ReconcileSettings, current
from billing.reconcile.contracts_in_force import AWS_CHANNELS, contracts_in_force, rate_join
from billing.reconcile.evidence import as_date, as_datetime, exact, moment, text, value_of
from billing.reconcile.findings import Finding
from billing.reconcile.periods import Period, has_usage, period_bounds
from billing.reconcile.sql import id_list, split_ids, utc_day

RULE = "metering_gaps"
SUCCESS = "Success"


def find(session: Session, period: str) -> Iterator[Finding]:
    """Missing metering hours and missing partner-feed days of `period`."""
    settings = current()
    bounds = period_bounds(period)
    if not has_usage(session, bounds):
        return
    yield from _missing_hours(session, bounds, settings)
    yield from _missing_feed_days(session, bounds, settings)


def _metering_loaded(session: Session, bounds: Period) -> bool:
    query = select(exists().where(MeteringResult.timestamp >= bounds.start, MeteringResult.timestamp < bounds.end))
    return bool(session.execute(query).scalar())


def _missing_hours(session: Session, bounds: Period, settings: ReconcileSettings) -> Iterator[Finding]:
    if not _metering_loaded(session, bounds):
        return
    u, m = UsageRecord, MeteringResult
    cif = contracts_in_force(bounds.name, AWS_CHANNELS)
    sent_as = [Account.aws_customer_identifier, Account.aws_account_id]
    accepted = exists().where(m.product_code == u.product_code, m.dimension == u.dimension_key,
                              m.timestamp == u.usage_hour, m.status == SUCCESS, m.customer_ref.in_(sent_as))
    answered_otherwise = exists().where(m.product_code == u.product_code, m.dimension == u.dimension_key,
                                        m.timestamp == u.usage_hour, m.status != SUCCESS,
                                        m.customer_ref.in_(sent_as))
    missing = (
        select(u.account_id, u.product_code, u.dimension_key, func.count().label("hours"),
               func.sum(u.quantity).label("quantity"), func.min(u.usage_hour).label("first_hour"),
               func.max(u.usage_hour).label("last_hour"),
               func.sum(case((answered_otherwise, 1), else_=0)).label("hours_answered_otherwise"),
               id_list(u.id).label("ids"))
        .join(cif, and_(cif.c.account_id == u.account_id, cif.c.product_code == u.product_code))
        .join(Account, Account.id == u.account_id)
        .where(u.usage_hour >= bounds.start, u.usage_hour < bounds.end, u.quantity > 0, ~accepted)
        .group_by(u.account_id, u.product_code, u.dimension_key)
        .subquery("missing")
    )
    query = (
        select(missing, cif.c.account_key, cif.c.contract_key, cif.c.channel, cif.c.currency, ContractRate.unit_price)
        .join(cif, and_(cif.c.account_id == missing.c.account_id, cif.c.product_code == missing.c.product_code))
        .outerjoin(ContractRate, rate_join(cif.c.contract_id, missing.c.dimension_key))
        .order_by(missing.c.account_id, missing.c.product_code, missing.c.dimension_key)
    )
    for row in session.execute(query):
        yield _missing_hours_finding(row, bounds, settings)


def _missing_hours_finding(row: Any, bounds: Period, settings: ReconcileSettings) -> Finding:
    quantity = exact(row.quantity)
    first, last = as_datetime(row.first_hour), as_datetime(row.last_hour)
    return Finding(
        rule=RULE, kind="metering_missing_hours", period=bounds.name, channel=row.channel,
        account_id=row.account_id, key_parts=(row.product_code, row.dimension_key),
        description=(f"{row.hours} hour(s) of {row.account_key} {row.product_code}/{row.dimension_key} usage in "
                     f"{bounds.name} ({text(quantity)} units, {moment(first)} … {moment(last)}) have no Success "
                     f"metering record."),
        product_code=row.product_code, dimension_key=row.dimension_key, currency=row.currency,
        expected_quantity=quantity, observed_quantity=Decimal(0),
        expected_amount=value_of(quantity, row.unit_price), observed_amount=value_of(Decimal(0), row.unit_price),
        record_refs={"usage_records": split_ids(row.ids, settings.max_record_refs), "contracts": [row.contract_key]},
        details={
            "missing_hours": row.hours, "quantity": text(quantity), "first_hour": moment(first),
            "last_hour": moment(last), "hours_answered_otherwise": row.hours_answered_otherwise,
            "contract_key": row.contract_key, "unit_price": text(row.unit_price),
        },
    )


def _missing_feed_days(session: Session, bounds: Period, settings: ReconcileSettings) -> Iterator[Finding]:
    last_due = min(bounds.last_day, settings.run_date() - timedelta(days=settings.partner_feed_lag_days))
    if last_due < bounds.first_day:
        return
    u = UsageRecord
    cif = contracts_in_force(bounds.name, AWS_CHANNELS)
    day = utc_day(u.usage_hour)
    ours = (
        select(u.product_code, day.label("day"), func.sum(u.quantity).label("quantity"))
        .join(cif, and_(cif.c.account_id == u.account_id, cif.c.product_code == u.product_code))
        .where(u.usage_hour >= bounds.start, u.usage_hour < bounds.end, u.quantity > 0)
        .group_by(u.product_code, day)
        .subquery("our_days")
    )
    reported = exists().where(PartnerUsage.product_id == Product.marketplace_product_id,
                              PartnerUsage.usage_date == ours.c.day)
    query = (
        select(ours.c.product_code, ours.c.day, ours.c.quantity, Product.marketplace_product_id)
        .join(Product, Product.product_code == ours.c.product_code)
        .where(Product.marketplace_product_id.is_not(None), ~reported)
        .order_by(ours.c.product_code, ours.c.day)
    )
    by_product: dict[tuple[str, str], list[tuple[date, Decimal]]] = defaultdict(list)
    for row in session.execute(query):
        missing_day = as_date(row.day)
        if missing_day is not None and missing_day <= last_due:
            by_product[(row.product_code, row.marketplace_product_id)].append(
                (missing_day, exact(row.quantity)))
    for (product_code, marketplace_id), days in sorted(by_product.items()):
        quantity = sum((q for _, q in days), Decimal(0))
        yield Finding(
            rule=RULE, kind="partner_feed_missing_day", period=bounds.name, channel="aws_marketplace",
            account_id=None, key_parts=(product_code,),
            description=(f"The partner's daily usage feed has no row for {product_code} ({marketplace_id}) on "
                         f"{len(days)} day(s) of {bounds.name} with usage: {', '.join(d.isoformat() for d, _ in days)}."),
            product_code=product_code, expected_quantity=quantity, observed_quantity=Decimal(0),
            record_refs={"products": [product_code]},
            details={
                "marketplace_product_id": marketplace_id, "missing_days": [d.isoformat() for d, _ in days],
                "per_day": [{"day": d.isoformat(), "our_quantity": text(q)} for d, q in days],
                "feed_lag_days": settings.partner_feed_lag_days,
            },
        )
