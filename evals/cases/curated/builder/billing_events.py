"""Seeds the AWS billing events of a case, linked as the seller data feed links them.

A marketplace invoice expands into its INVOICED rows (gross `SELLER_REV_SHARE`, the listing
fee `AWS_REV_SHARE` — on the seller's listing-fee invoice when one is named — and tax rows),
then what happened to them: `COLLECTED`, `DISBURSED` into a payout (each offsetting its parent
with the opposite sign), `FORGIVEN`, refunds and credits (`<type>_REFUND` / `_CREDIT`). A payout
is a `DISBURSEMENT` row whose amount is the Σ of the rows pointing to it (DOMAIN.md, AWS
seller data feeds), with its bank receipt on our side unless it failed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.models import (
    BillingEvent,
    PartnerUsage,
    Payment,
)
from billing.money import quantize
from evals.cases.curated.builder.spec import (
    CaseSpec,
    MarketplaceInvoiceSpec,
    PayoutSpec,
    RawEventSpec,
    parse_days,
)

AWS_PAYER_NAMES = {
    "USD": "AMAZON WEB SERVICES INC",
    "EUR": "AMAZON WEB SERVICES EMEA SARL",
    "GBP": "AMAZON WEB SERVICES EMEA SARL UK BRANCH",
    "AUD": "AMAZON WEB SERVICES AUSTRALIA",
    "JPY": "AMAZON WEB SERVICES JAPAN G.K.",
}


def event_id(case_id: str, role: str) -> str:
    """A 40-character billing event id, stable for the case and the row's role (AWS ids are 40 long)."""
    return hashlib.sha1(f"{case_id}:{role}".encode()).hexdigest()


@dataclass
class _Payout:
    spec: PayoutSpec
    id: str
    children: list[BillingEvent] = field(default_factory=list)


def _stamp(day: date) -> datetime:
    return datetime.combine(day, time(6, 0), UTC)


def seed_billing_events(session: Session, spec: CaseSpec) -> None:
    """Insert the case's AWS billing events: invoices and their fate, raw rows, payouts (and receipts)."""
    money = spec.money
    payouts = {p.alias: _Payout(p, event_id(spec.id, f"payout:{p.alias}")) for p in money.payouts}
    for invoice in money.invoices:
        _marketplace_invoice(session, spec, invoice, payouts)
    for raw in money.events:
        _raw_event(session, spec, raw)
    for payout in payouts.values():
        _payout(session, spec, payout)
    session.flush()


def _priced_usage(
    session: Session,
    product_id: str | None,
    buyer: str | None,
    usage: list[date] | None,
    currency: str,
) -> Decimal:
    """What the partner's daily feed priced for the buyer and product over the usage period (AWS invoices
    usage at the feed's rates)."""
    if usage is None:
        raise ValueError("gross 'usage' needs the invoice's usage period")
    total = session.scalar(
        select(func.sum(PartnerUsage.estimated_revenue_in_pricing_currency)).where(
            PartnerUsage.product_id == product_id,
            PartnerUsage.end_user_account_id == buyer,
            PartnerUsage.usage_date >= usage[0],
            PartnerUsage.usage_date <= usage[-1],
        )
    )
    if not total:
        raise ValueError(f"no partner usage of {product_id} for {buyer} to price the invoice")
    return quantize(Decimal(str(total)), currency)


def _marketplace_invoice(
    session: Session, spec: CaseSpec, inv: MarketplaceInvoiceSpec, payouts: dict[str, _Payout]
) -> None:
    contract = spec.contract(inv.contract)
    product = spec.product(contract.product)
    currency = inv.currency or contract.currency
    buyer = inv.end_user or (spec.account.aws_account_id if spec.account else None)
    seller = spec.money.seller_account_id
    due = inv.due or inv.invoice_date + timedelta(days=contract.terms_days)
    usage = parse_days(inv.usage) if inv.usage else None
    resale = contract.channel == "reseller"
    common: dict[str, Any] = {
        "from_account_id": contract.reseller_account_id
        if resale and inv.resale_side != "SELLING"
        else buyer,
        "to_account_id": seller,
        "end_user_account_id": buyer,
        "product_id": product.mp_id,
        "currency": currency,
        "invoice_date": inv.invoice_date,
        "payment_due_date": due,
        "usage_period_start_date": usage[0] if usage else None,
        "usage_period_end_date": usage[-1] if usage else None,
        "agreement_id": contract.agreement_id,
        "offer_id": contract.offer_id,
        "catalog": "AWSMarketplace",
        "broker_id": contract.reseller_account_id if resale else None,
        "billing_address_id": f"addr-{(buyer or 'none')[-6:]}",
        "valid_from": _stamp(inv.invoice_date),
        "update_date": _stamp(inv.invoice_date),
    }
    key = f"{inv.invoice_id}"
    rows: dict[str, BillingEvent] = {}

    def add(role: str, **values: Any) -> BillingEvent:
        row = BillingEvent(billing_event_id=event_id(spec.id, f"{key}:{role}"), **(common | values))
        session.add(row)
        return row

    gross = (
        inv.gross
        if inv.gross != "usage"
        else _priced_usage(session, product.mp_id, buyer, usage, currency)
    )
    variant = "RESALE" if resale else "PURCHASE"
    charge = (
        {"charge_variant": "RESALE", "charge_side": inv.resale_side or "BUYING"} if resale else {}
    )
    rows["gross"] = add(
        "gross",
        action="INVOICED",
        transaction_type="SELLER_REV_SHARE",
        amount=gross,
        balance_impacting=True,
        invoice_id=inv.invoice_id,
        invoice_variant=variant,
        line_item_id=inv.line_item_id or f"{inv.invoice_id}-1",
        **charge,
    )
    fee = inv.fee
    rate = (
        inv.fee_rate
        if inv.fee_rate is not None
        else (contract.fee_rate if inv.fee is None else None)
    )
    if fee is None and rate is not None:
        fee = -quantize(gross * rate, currency)
    if fee is not None:
        on_fee_invoice = inv.fee_invoice_id is not None
        rows["fee"] = add(
            "fee",
            action="INVOICED",
            transaction_type="AWS_REV_SHARE",
            amount=fee,
            balance_impacting=True,
            invoice_id=inv.fee_invoice_id or inv.invoice_id,
            buyer_invoice_id=inv.invoice_id if on_fee_invoice else None,
            invoice_variant="LISTING_FEE" if on_fee_invoice else variant,
            line_item_id=f"{inv.fee_invoice_id or inv.invoice_id}-fee",
        )
    if inv.aws_tax is not None:
        rows["aws_tax"] = add(
            "aws_tax",
            action="INVOICED",
            transaction_type="AWS_TAX_SHARE",
            amount=inv.aws_tax,
            balance_impacting=False,
            invoice_id=inv.invoice_id,
            invoice_variant=variant,
            line_item_id=f"{inv.invoice_id}-tax",
        )
    if inv.seller_tax is not None:
        rows["seller_tax"] = add(
            "seller_tax",
            action="INVOICED",
            transaction_type="SELLER_TAX_SHARE",
            amount=inv.seller_tax,
            balance_impacting=True,
            invoice_id=inv.invoice_id,
            invoice_variant=variant,
            line_item_id=f"{inv.invoice_id}-tax",
        )
    session.flush()
    balance_rows = {k: v for k, v in rows.items() if v.balance_impacting}
    if inv.collected_on is not None:
        for role, parent in balance_rows.items():
            add(
                f"collected:{role}",
                action="COLLECTED",
                transaction_type=parent.transaction_type,
                amount=-parent.amount,
                balance_impacting=True,
                invoice_id=parent.invoice_id,
                buyer_invoice_id=parent.buyer_invoice_id,
                parent_billing_event_id=parent.billing_event_id,
                action_date=inv.collected_on,
                valid_from=_stamp(inv.collected_on),
                update_date=_stamp(inv.collected_on),
            )
    if inv.forgiven is not None:
        for role in inv.forgiven.rows:
            if role in balance_rows:
                parent = balance_rows[role]
                add(
                    f"forgiven:{role}",
                    action="FORGIVEN",
                    transaction_type=parent.transaction_type,
                    amount=-parent.amount,
                    balance_impacting=True,
                    invoice_id=parent.invoice_id,
                    buyer_invoice_id=parent.buyer_invoice_id,
                    parent_billing_event_id=parent.billing_event_id,
                    action_date=inv.forgiven.at,
                    valid_from=_stamp(inv.forgiven.at),
                    update_date=_stamp(inv.forgiven.at),
                )
    for kind, reversals in (("REFUND", inv.refunds), ("CREDIT", inv.credits)):
        for n, rev in enumerate(reversals, start=1):
            parts = [
                ("gross", "SELLER_REV_SHARE", rev.gross),
                ("fee", "AWS_REV_SHARE", rev.fee),
                ("tax", rev.tax_type, rev.tax),
            ]
            for role, base_type, amount in parts:
                if amount is None:
                    continue
                parent = (
                    rows.get(role)
                    if role != "tax"
                    else rows.get("aws_tax" if rev.tax_type == "AWS_TAX_SHARE" else "seller_tax")
                )
                add(
                    f"{kind.lower()}{n}:{role}",
                    action="INVOICED",
                    transaction_type=f"{base_type}_{kind}",
                    amount=amount,
                    balance_impacting=base_type != "AWS_TAX_SHARE",
                    invoice_id=parent.invoice_id if parent else inv.invoice_id,
                    buyer_invoice_id=parent.buyer_invoice_id if parent else None,
                    parent_billing_event_id=parent.billing_event_id if parent else None,
                    invoice_date=rev.at,
                    action_date=rev.at,
                    valid_from=_stamp(rev.at),
                    update_date=_stamp(rev.at),
                )
    if inv.disbursed is not None:
        payout = payouts[inv.disbursed.payout]
        for role in inv.disbursed.rows:
            if role not in balance_rows:
                continue
            parent = balance_rows[role]
            child = add(
                f"disbursed:{role}",
                action="DISBURSED",
                transaction_type=parent.transaction_type,
                amount=-parent.amount,
                balance_impacting=True,
                invoice_id=parent.invoice_id,
                buyer_invoice_id=parent.buyer_invoice_id,
                parent_billing_event_id=parent.billing_event_id,
                disbursement_billing_event_id=payout.id,
                action_date=inv.disbursed.at,
                valid_from=_stamp(inv.disbursed.at),
                update_date=_stamp(inv.disbursed.at),
            )
            payout.children.append(child)
    session.flush()


def _raw_event(session: Session, spec: CaseSpec, raw: RawEventSpec) -> None:
    contract = spec.contract(raw.contract)
    usage = parse_days(raw.usage) if raw.usage else None
    stamp = _stamp(raw.action_date or raw.invoice_date or date(2000, 1, 1))
    session.add(
        BillingEvent(
            billing_event_id=event_id(spec.id, raw.role),
            action=raw.action,
            transaction_type=raw.transaction_type,
            amount=raw.amount,
            currency=contract.currency,
            balance_impacting=raw.balance_impacting,
            from_account_id=spec.account.aws_account_id if spec.account else None,
            to_account_id=spec.money.seller_account_id,
            end_user_account_id=spec.account.aws_account_id if spec.account else None,
            product_id=spec.product(contract.product).mp_id,
            invoice_id=raw.invoice_id,
            invoice_date=raw.invoice_date,
            payment_due_date=raw.due,
            usage_period_start_date=usage[0] if usage else None,
            usage_period_end_date=usage[-1] if usage else None,
            agreement_id=contract.agreement_id,
            offer_id=contract.offer_id,
            catalog="AWSMarketplace",
            action_date=raw.action_date,
            invoice_variant=raw.invoice_variant,
            line_item_id=raw.line_item_id,
            valid_from=stamp,
            update_date=stamp,
        )
    )
    session.flush()


def _payout(session: Session, spec: CaseSpec, payout: _Payout) -> None:
    p = payout.spec
    seller = spec.money.seller_account_id
    for n, other in enumerate(p.other_buyers, start=1):
        # Another buyer's row in the same payout: it makes the payout's total, never the case's bundle.
        parent_id = event_id(spec.id, f"{p.alias}:other{n}:invoiced")
        session.add(
            BillingEvent(
                billing_event_id=parent_id,
                action="INVOICED",
                transaction_type="SELLER_REV_SHARE",
                amount=other.gross,
                currency=p.currency,
                balance_impacting=True,
                end_user_account_id=other.aws_account_id,
                to_account_id=seller,
                invoice_date=p.at - timedelta(days=35),
                payment_due_date=p.at - timedelta(days=5),
                invoice_id=f"{parent_id[:10]}",
                catalog="AWSMarketplace",
            )
        )
        child = BillingEvent(
            billing_event_id=event_id(spec.id, f"{p.alias}:other{n}:disbursed"),
            action="DISBURSED",
            transaction_type="SELLER_REV_SHARE",
            amount=-other.gross,
            currency=p.currency,
            balance_impacting=True,
            end_user_account_id=other.aws_account_id,
            to_account_id=seller,
            parent_billing_event_id=parent_id,
            disbursement_billing_event_id=payout.id,
            action_date=p.at,
            invoice_id=f"{parent_id[:10]}",
            catalog="AWSMarketplace",
        )
        session.add(child)
        payout.children.append(child)
    total = sum((c.amount for c in payout.children), Decimal(0)) + p.adjust
    amount = p.amount if p.amount is not None else total
    session.add(
        BillingEvent(
            billing_event_id=payout.id,
            action="DISBURSED",
            transaction_type="DISBURSEMENT",
            amount=amount,
            currency=p.currency,
            balance_impacting=True,
            from_account_id=None,
            to_account_id=seller,
            bank_trace_id=p.bank_trace_id,
            action_date=p.at,
            catalog="AWSMarketplace",
            disbursement_amount=p.disbursement_amount,
            disbursement_currency=p.disbursement_currency,
            disbursement_reference_number=p.reference,
            valid_from=_stamp(p.at),
            update_date=_stamp(p.at),
        )
    )
    if p.failed_on is not None:
        session.add(
            BillingEvent(
                billing_event_id=event_id(spec.id, f"payout:{p.alias}:failure"),
                action="DISBURSED",
                transaction_type="DISBURSEMENT_FAILURE",
                amount=-amount,
                currency=p.currency,
                balance_impacting=True,
                to_account_id=seller,
                parent_billing_event_id=payout.id,
                disbursement_billing_event_id=payout.id,
                bank_trace_id=p.bank_trace_id,
                action_date=p.failed_on,
                catalog="AWSMarketplace",
                valid_from=_stamp(p.failed_on),
                update_date=_stamp(p.failed_on),
            )
        )
    elif p.receipt and p.bank_trace_id:
        currency = p.disbursement_currency or p.currency
        received = (
            p.receipt_amount
            if p.receipt_amount is not None
            else abs(p.disbursement_amount or amount)
        )
        session.add(
            Payment(
                payment_id=f"bank-{p.bank_trace_id.lower()}",
                account_id=None,
                channel="aws_marketplace",
                kind="disbursement",
                currency=currency,
                amount=received,
                received_date=p.at + timedelta(days=1),
                invoice_number=None,
                bank_trace_id=p.bank_trace_id,
                payer=AWS_PAYER_NAMES.get(currency, "AMAZON"),
                remittance_note=f"AWS MARKETPLACE DISBURSEMENT {p.reference or p.bank_trace_id}",
            )
        )
    session.flush()
