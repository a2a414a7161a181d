"""Rule `channel_overlap`: the same account × product × month billed direct and through AWS.

DOMAIN.md (channel_conflict): "same usage billed direct and via the marketplace — same
customer/period in both ledgers"; the usual resolution is a credit note on the direct
invoice. Direct side: our invoices of channel `direct` for the period (not void), per
account × product (the line's product, else the invoice contract's). Marketplace side:
current INVOICED SELLER_REV_SHARE billing events whose usage period overlaps the month, per
buyer (AWS account id → account) × product (marketplace id → product code). Both are
aggregated in SQL and joined on the aggregates; each pair found is one
`billed_in_two_channels`: expected = nothing billed direct (0), observed = the direct
amount, in the direct invoice's currency; the marketplace amount is in the details.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from billing.models import Account, BillingEvent, Contract, Invoice, InvoiceLine, Product
from billing.reconcile.config import current
from billing.reconcile.contracts_in_force import AWS_CHANNELS, contracts_in_force, is_account_of
from billing.reconcile.evidence import exact, text
from billing.reconcile.findings import Finding
from billing.reconcile.periods import period_bounds
from billing.reconcile.sql import id_list, split_ids

RULE = "channel_overlap"


def find(session: Session, period: str) -> Iterator[Finding]:
    """Account × product months on a direct invoice and on the marketplace's invoice."""
    bounds = period_bounds(period)
    limit = current().max_record_refs
    contract_product = aliased(Product, name="contract_product")
    product_code = func.coalesce(InvoiceLine.product_code, contract_product.product_code)
    direct = (
        select(Invoice.account_id, product_code.label("product_code"), func.sum(InvoiceLine.amount).label("amount"),
               func.min(Invoice.currency).label("currency"),
               func.count(func.distinct(Invoice.currency)).label("currencies"),
               id_list(Invoice.invoice_number).label("invoices"), id_list(Contract.contract_key).label("contracts"))
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .outerjoin(Contract, Contract.id == Invoice.contract_id)
        .outerjoin(contract_product, contract_product.id == Contract.product_id)
        .where(Invoice.channel == "direct", Invoice.period == period, Invoice.status != "void",
               product_code.is_not(None))
        .group_by(Invoice.account_id, product_code)
        .subquery("direct")
    )
    be = BillingEvent
    marketplace = (
        select(Account.id.label("account_id"), Product.product_code, func.sum(be.amount).label("amount"),
               func.min(be.currency).label("currency"), func.count().label("events"),
               id_list(be.billing_event_id).label("event_ids"))
        .select_from(be)
        .join(Account, is_account_of(be.end_user_account_id))
        .join(Product, Product.marketplace_product_id == be.product_id)
        .where(be.action == "INVOICED", be.transaction_type == "SELLER_REV_SHARE", be.delete_date.is_(None),
               be.usage_period_start_date <= bounds.last_day, be.usage_period_end_date >= bounds.first_day)
        .group_by(Account.id, Product.product_code)
        .subquery("marketplace")
    )
    cif = contracts_in_force(period, AWS_CHANNELS)
    d, m = direct.c, marketplace.c
    query = (
        select(d.account_id, d.product_code, d.amount, d.currency, d.currencies, d.invoices, d.contracts,
               m.amount.label("marketplace_amount"), m.currency.label("marketplace_currency"), m.events,
               m.event_ids, cif.c.account_key, cif.c.contract_key.label("marketplace_contract"), cif.c.channel)
        .join(marketplace, and_(m.account_id == d.account_id, m.product_code == d.product_code))
        .outerjoin(cif, and_(cif.c.account_id == d.account_id, cif.c.product_code == d.product_code))
        .order_by(d.account_id, d.product_code)
    )
    for row in session.execute(query):
        yield _finding(row, period, limit)


def _finding(row: Any, period: str, limit: int) -> Finding:
    direct_amount, marketplace_amount = exact(row.amount), exact(row.marketplace_amount)
    invoices = split_ids(row.invoices, limit)
    contracts = sorted(set(split_ids(row.contracts, limit)) | ({row.marketplace_contract} - {None}))
    who = row.account_key or f"account {row.account_id}"
    return Finding(
        rule=RULE, kind="billed_in_two_channels", period=period, channel="direct", account_id=row.account_id,
        key_parts=(row.product_code,),
        description=(f"{who} {row.product_code} for {period} is on direct invoice(s) {', '.join(invoices)} "
                     f"({text(direct_amount)} {row.currency}) and was invoiced through "
                     f"{row.channel or 'the marketplace'} ({text(marketplace_amount)} {row.marketplace_currency}, "
                     f"{row.events} billing event(s))."),
        product_code=row.product_code, currency=row.currency,
        expected_amount=Decimal(0), observed_amount=direct_amount,
        record_refs={"invoices": invoices, "billing_events": split_ids(row.event_ids, limit), "contracts": contracts},
        details={
            "direct_amount": text(direct_amount), "direct_currency": row.currency,
            "direct_currencies": row.currencies, "marketplace_amount": text(marketplace_amount),
            "marketplace_currency": row.marketplace_currency, "marketplace_channel": row.channel,
            "marketplace_events": row.events, "marketplace_contract": row.marketplace_contract,
        },
    )
