"""Rule `usage_without_invoice`: a month of usage that nothing invoiced.

DOMAIN.md (missing_invoice): "entitlement but nothing invoiced — no INVOICED row after the
schedule date". For each account × product with usage > 0 in the month, by the channel of
the contract in force:

- AWS channels (aws_marketplace, reseller): no current (not deleted) `billing_events` row
  with action INVOICED and transaction_type SELLER_REV_SHARE for the buyer's AWS account
  and the product's marketplace id (or the contract's agreement) whose usage period
  overlaps the month;
- direct: no invoice of ours (not void) for the account and period, for the contract or
  with a line for the product.

Invoices for a month are issued early in the next one, so the rule speaks only once
`invoice_grace_days` after the month's end have passed (as_of). One `not_invoiced` per
account × product × month: expected = billable usage (above any included quantity) at the
contracted rates, observed = 0. Azure and Google contracts are not checked (no feed here).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from billing.models import BillingEvent, ContractRate, Invoice, InvoiceLine, UsageRecord
from billing.reconcile.config import ReconcileSettings, current
from billing.reconcile.contracts_in_force import AWS_CHANNELS, contracts_in_force, rate_join
from billing.reconcile.evidence import exact, text, value_of
from billing.reconcile.findings import Finding
from billing.reconcile.periods import Period, has_usage, period_bounds

RULE = "usage_without_invoice"
DIRECT = "direct"


def find(session: Session, period: str) -> Iterator[Finding]:
    """Account × product months with usage and no invoice, once invoices are due."""
    settings = current()
    bounds = period_bounds(period)
    due = bounds.end.date() + timedelta(days=settings.invoice_grace_days)
    if settings.run_date() < due or not has_usage(session, bounds):
        return
    rows_by_key: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for row in session.execute(_uninvoiced_usage(bounds)):
        rows_by_key[(row.account_id, row.product_code)].append(row)
    for key in sorted(rows_by_key):
        finding = _finding(rows_by_key[key], bounds, settings, due)
        if finding is not None:
            yield finding


def _uninvoiced_usage(bounds: Period) -> Any:
    """Per account × product × dimension: usage of the month where no invoice covers it."""
    u = UsageRecord
    cif = contracts_in_force(bounds.name)
    ours = (
        select(u.account_id, u.product_code, u.dimension_key, func.sum(u.quantity).label("quantity"))
        .where(u.usage_hour >= bounds.start, u.usage_hour < bounds.end, u.quantity > 0)
        .group_by(u.account_id, u.product_code, u.dimension_key)
        .subquery("ours")
    )
    be = BillingEvent
    marketplace_invoiced = exists().where(
        be.action == "INVOICED", be.transaction_type == "SELLER_REV_SHARE", be.delete_date.is_(None),
        be.usage_period_start_date <= bounds.last_day, be.usage_period_end_date >= bounds.first_day,
        or_(and_(be.end_user_account_id == cif.c.aws_account_id, be.product_id == cif.c.marketplace_product_id),
            and_(cif.c.agreement_id.is_not(None), be.agreement_id == cif.c.agreement_id)),
    )
    # Nested two levels deep: correlate explicitly, or SQLAlchemy re-selects the contracts inside.
    line_for_product = exists().where(InvoiceLine.invoice_id == Invoice.id,
                                      InvoiceLine.product_code == cif.c.product_code).correlate_except(InvoiceLine)
    direct_invoiced = exists().where(
        Invoice.account_id == cif.c.account_id, Invoice.period == bounds.name, Invoice.status != "void",
        or_(Invoice.contract_id == cif.c.contract_id, line_for_product),
    )
    return (
        select(ours, cif.c.account_key, cif.c.contract_key, cif.c.channel, cif.c.currency,
               ContractRate.unit_price, ContractRate.included_quantity)
        .join(cif, and_(cif.c.account_id == ours.c.account_id, cif.c.product_code == ours.c.product_code))
        .outerjoin(ContractRate, rate_join(cif.c.contract_id, ours.c.dimension_key))
        .where(or_(and_(cif.c.channel.in_(AWS_CHANNELS), ~marketplace_invoiced),
                   and_(cif.c.channel == DIRECT, ~direct_invoiced)))
        .order_by(ours.c.account_id, ours.c.product_code, ours.c.dimension_key)
    )


def _finding(rows: list[Any], bounds: Period, settings: ReconcileSettings, due: Any) -> Finding | None:
    first = rows[0]
    per_dimension, total, billable_dimensions = [], Decimal(0), []
    for row in rows:
        quantity = exact(row.quantity)
        included = exact(row.included_quantity)
        billable = max(quantity - included, Decimal(0))
        value = value_of(billable, row.unit_price)
        total += value or Decimal(0)
        if billable > 0:
            billable_dimensions.append((row.dimension_key, billable))
        per_dimension.append({"dimension_key": row.dimension_key, "quantity": text(quantity),
                              "included_quantity": text(included), "billable_quantity": text(billable),
                              "unit_price": text(row.unit_price), "value": text(value)})
    if not billable_dimensions:  # all of it inside the included quantities: nothing to invoice
        return None
    single = billable_dimensions[0] if len(billable_dimensions) == 1 else None
    looked_for = ("an invoice of ours for the period (contract or product line)" if first.channel == DIRECT
                  else "an INVOICED SELLER_REV_SHARE billing event whose usage period overlaps the month")
    return Finding(
        rule=RULE, kind="not_invoiced", period=bounds.name, channel=first.channel, account_id=first.account_id,
        key_parts=(first.product_code,),
        description=(f"{first.account_key} used {first.product_code} in {bounds.name} (billable value "
                     f"{text(total)} {first.currency} under {first.contract_key}) and no {looked_for} exists "
                     f"{settings.invoice_grace_days} days after the month ended."),
        product_code=first.product_code, dimension_key=single[0] if single else None, currency=first.currency,
        expected_amount=total, observed_amount=Decimal(0),
        expected_quantity=single[1] if single else None, observed_quantity=Decimal(0) if single else None,
        record_refs={"contracts": [first.contract_key]},
        details={"contract_key": first.contract_key, "looked_for": looked_for, "per_dimension": per_dimension,
                 # Not the run date itself: evidence must not change from one nightly run to the next.
                 "invoices_due_by": due.isoformat()},
    )
