"""Tax rows vs the contract's tax treatment, and our invoice's tax vs the marketplace's tax rows.

DOMAIN.md: AWS collects and remits tax (`AWS_TAX_SHARE`, informational), or collects it and
passes it to the seller (`SELLER_TAX_SHARE`), or the seller handles it; the contract says
which (`tax_party`: aws | seller | none). Kinds:
- `tax_party_mismatch`, per buyer invoice: SELLER_TAX_SHARE rows on a contract whose tax party
  is `aws`, or AWS_TAX_SHARE rows where it is `seller`;
- `tax_amount_mismatch`, per invoice of ours that names a marketplace invoice: our tax ≠
  Σ of the tax rows (AWS_TAX_SHARE + SELLER_TAX_SHARE) on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from billing.models import Contract, Invoice
from billing.money import quantize
from billing.reconcile.config import ReconcileSettings, current
from billing.reconcile.findings import Finding
from billing.reconcile.linked import linked_finding, with_contract
from billing.reconcile.partner_events import (
    AWS_TAX_SHARE,
    INVOICED,
    SELLER_REV_SHARE,
    SELLER_TAX_SHARE,
    Event,
    billed_date,
    in_period,
    invoice_key,
    is_current,
    product_code_for,
)
from billing.reconcile.sql import id_list, split_ids

RULE = "tax_treatment"
# Which tax row a contract's tax party must not see.
WRONG_ROW = {"aws": SELLER_TAX_SHARE, "seller": AWS_TAX_SHARE}


def _tax_per_invoice(period: str) -> Any:
    """Per buyer invoice × currency of the billed month: Σ of each tax type, the buyer, the rows.

    An invoice's rows share its usage period, so filtering rows before grouping keeps whole
    invoices and spares grouping every month's rows on every run."""
    ev = Event
    is_gross = ev.transaction_type == SELLER_REV_SHARE
    return (
        select(
            invoice_key(ev).label("invoice_key"),
            ev.currency,
            func.min(
                func.coalesce(case((is_gross, ev.end_user_account_id)), ev.end_user_account_id)
            ).label("end_user"),
            func.min(func.coalesce(case((is_gross, ev.product_id)), ev.product_id)).label(
                "product_id"
            ),
            func.min(ev.agreement_id).label("agreement_id"),
            func.min(billed_date(ev)).label("billed_on"),
            func.sum(case((ev.transaction_type == AWS_TAX_SHARE, ev.amount), else_=0)).label(
                "aws_tax"
            ),
            func.sum(case((ev.transaction_type == SELLER_TAX_SHARE, ev.amount), else_=0)).label(
                "seller_tax"
            ),
            func.sum(
                case((ev.transaction_type.in_([AWS_TAX_SHARE, SELLER_TAX_SHARE]), 1), else_=0)
            ).label("tax_rows"),
            id_list(
                case(
                    (
                        ev.transaction_type.in_([AWS_TAX_SHARE, SELLER_TAX_SHARE]),
                        ev.billing_event_id,
                    )
                )
            ).label("tax_ids"),
        )
        .where(
            is_current(ev),
            ev.action == INVOICED,
            ev.transaction_type.in_([SELLER_REV_SHARE, AWS_TAX_SHARE, SELLER_TAX_SHARE]),
            in_period(billed_date(ev), period),
        )
        .group_by(invoice_key(ev), ev.currency)
        .subquery("tax_per_invoice")
    )


def find(session: Session, period: str) -> Iterator[Finding]:
    """Tax findings of `period`."""
    cfg = current()
    yield from _wrong_party(session, period, cfg)
    yield from _wrong_amount(session, period, cfg)


def _wrong_party(session: Session, period: str, cfg: ReconcileSettings) -> Iterator[Finding]:
    tax = _tax_per_invoice(period)
    query = with_contract(
        tax, ("invoice_key", "currency"), Contract.tax_party, required=True
    ).where(
        in_period(tax.c.billed_on, period),
        tax.c.tax_rows > 0,
        Contract.tax_party.in_(list(WRONG_ROW)),
    )
    for row in session.execute(query).mappings():
        currency, wrong = row["currency"], WRONG_ROW[row["tax_party"]]
        amount = quantize(
            Decimal(row["seller_tax"] if wrong == SELLER_TAX_SHARE else row["aws_tax"]), currency
        )
        if abs(amount) <= cfg.amount_tolerance:
            continue
        yield linked_finding(
            row,
            rule=RULE,
            period=period,
            currency=currency,
            refs={"billing_events": split_ids(row["tax_ids"], cfg.max_record_refs)},
            kind="tax_party_mismatch",
            key_parts=("party", row["invoice_key"], currency),
            expected_amount=Decimal(0),
            observed_amount=amount,
            description=(
                f"Invoice {row['invoice_key']} carries {amount} {currency} of {wrong}; "
                f"the contract's "
                f"tax party is {row['tax_party']}."
            ),
            details={
                "invoice_id": row["invoice_key"],
                "tax_party": row["tax_party"],
                "unexpected_row_type": wrong,
                "aws_tax_share": str(quantize(Decimal(row["aws_tax"]), currency)),
                "seller_tax_share": str(quantize(Decimal(row["seller_tax"]), currency)),
            },
        )


def _wrong_amount(session: Session, period: str, cfg: ReconcileSettings) -> Iterator[Finding]:
    tax = _tax_per_invoice(period)
    query = (
        select(
            Invoice.invoice_number,
            Invoice.account_id,
            Invoice.channel,
            Invoice.currency,
            Invoice.tax,
            Invoice.partner_invoice_id,
            Contract.contract_key,
            tax.c.aws_tax,
            tax.c.seller_tax,
            tax.c.tax_ids,
            product_code_for(tax.c.product_id).label("product_code"),
        )
        .join(
            tax,
            (tax.c.invoice_key == Invoice.partner_invoice_id)
            & (tax.c.currency == Invoice.currency),
        )
        .outerjoin(Contract, Contract.id == Invoice.contract_id)
        .where(Invoice.period == period, Invoice.status != "void")
        .order_by(Invoice.invoice_number)
    )
    for row in session.execute(query).mappings():
        currency = row["currency"]
        ours = quantize(Decimal(row["tax"]), currency)
        theirs = quantize(Decimal(row["aws_tax"]) + Decimal(row["seller_tax"]), currency)
        if abs(ours - theirs) <= cfg.amount_tolerance:
            continue
        refs = {"invoices": [row["invoice_number"]]}
        if row["tax_ids"]:
            refs["billing_events"] = split_ids(row["tax_ids"], cfg.max_record_refs)
        if row["contract_key"]:
            refs["contracts"] = [row["contract_key"]]
        yield Finding(
            rule=RULE,
            kind="tax_amount_mismatch",
            period=period,
            channel=row["channel"],
            account_id=row["account_id"],
            key_parts=("amount", row["invoice_number"]),
            product_code=row["product_code"],
            currency=currency,
            expected_amount=ours,
            observed_amount=theirs,
            description=(
                f"Invoice {row['invoice_number']} states {ours} {currency} tax; "
                f"the marketplace's tax rows "
                f"on {row['partner_invoice_id']} add up to {theirs} {currency}."
            ),
            record_refs=refs,
            details={
                "invoice_id": row["partner_invoice_id"],
                "aws_tax_share": str(quantize(Decimal(row["aws_tax"]), currency)),
                "seller_tax_share": str(quantize(Decimal(row["seller_tax"]), currency)),
            },
        )
