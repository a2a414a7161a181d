"""Direct contracts: invoices not (fully) paid once due, and cash that matches no invoice.

Kinds:
- `unpaid` / `short_paid`, per direct invoice of the month past `due_date` + `payment_grace_days`
  on the run date: Σ customer payments and bank receipts naming the invoice (same currency) vs
  the total less our credit notes on it;
- `unapplied_cash`, per payment received in the month (customer payment or bank receipt) that
  names no invoice we know and is not a marketplace payout's bank receipt (DOMAIN.md: unapplied
  cash on direct contracts, a receipt matching no invoice).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from billing.models import BillingEvent, Contract, CreditNote, Invoice, Payment
from billing.money import quantize
from billing.reconcile.config import ReconcileSettings, current
from billing.reconcile.findings import Finding
from billing.reconcile.partner_events import DISBURSEMENT, in_period, is_current
from billing.reconcile.sql import id_list, split_ids

RULE = "direct_payments"
CASH_KINDS = ("customer_payment", "bank_receipt")


def find(session: Session, period: str) -> Iterator[Finding]:
    """Payment findings of `period`."""
    cfg = current()
    yield from _underpaid(session, period, cfg)
    yield from _unapplied(session, period, cfg)


def _underpaid(session: Session, period: str, cfg: ReconcileSettings) -> Iterator[Finding]:
    cutoff = cfg.run_date() - timedelta(days=cfg.payment_grace_days)
    paid = (
        select(
            Payment.invoice_number,
            func.sum(Payment.amount).label("paid"),
            id_list(Payment.payment_id).label("payment_ids"),
            func.max(Payment.received_date).label("last_paid_on"),
        )
        .join(
            Invoice,
            and_(
                Invoice.invoice_number == Payment.invoice_number,
                Invoice.currency == Payment.currency,
            ),
        )
        .where(Payment.kind.in_(CASH_KINDS))
        .group_by(Payment.invoice_number)
        .subquery("paid")
    )
    credited = (
        select(
            CreditNote.invoice_number,
            func.sum(CreditNote.amount).label("credited"),
            id_list(CreditNote.credit_note_number).label("note_ids"),
        )
        .join(
            Invoice,
            and_(
                Invoice.invoice_number == CreditNote.invoice_number,
                Invoice.currency == CreditNote.currency,
            ),
        )
        .group_by(CreditNote.invoice_number)
        .subquery("credited")
    )
    query = (
        select(
            Invoice.invoice_number,
            Invoice.account_id,
            Invoice.currency,
            Invoice.total,
            Invoice.due_date,
            Invoice.status,
            Contract.contract_key,
            func.coalesce(paid.c.paid, 0).label("paid"),
            paid.c.payment_ids,
            paid.c.last_paid_on,
            func.coalesce(credited.c.credited, 0).label("credited"),
            credited.c.note_ids,
        )
        .outerjoin(paid, paid.c.invoice_number == Invoice.invoice_number)
        .outerjoin(credited, credited.c.invoice_number == Invoice.invoice_number)
        .outerjoin(Contract, Contract.id == Invoice.contract_id)
        .where(
            Invoice.channel == "direct",
            Invoice.period == period,
            Invoice.status != "void",
            Invoice.due_date < cutoff,
        )
        .order_by(Invoice.invoice_number)
    )
    for row in session.execute(query).mappings():
        currency = row["currency"]
        owed = quantize(Decimal(row["total"]) - Decimal(row["credited"]), currency)
        paid_amount = quantize(Decimal(row["paid"]), currency)
        if owed - paid_amount <= cfg.amount_tolerance:
            continue
        kind = "unpaid" if abs(paid_amount) <= cfg.amount_tolerance else "short_paid"
        refs = {"invoices": [row["invoice_number"]]}
        for key, joined in (("payments", row["payment_ids"]), ("credit_notes", row["note_ids"])):
            if joined:
                refs[key] = split_ids(joined, cfg.max_record_refs)
        if row["contract_key"]:
            refs["contracts"] = [row["contract_key"]]
        yield Finding(
            rule=RULE,
            kind=kind,
            period=period,
            channel="direct",
            account_id=row["account_id"],
            key_parts=(row["invoice_number"],),
            currency=currency,
            expected_amount=owed,
            observed_amount=paid_amount,
            description=(
                f"Invoice {row['invoice_number']} was due on {row['due_date']}: "
                f"{owed} {currency} owed, "
                f"{paid_amount} {currency} received."
            ),
            record_refs=refs,
            details={
                "invoice_total": str(quantize(Decimal(row["total"]), currency)),
                "credited": str(quantize(Decimal(row["credited"]), currency)),
                "due_date": str(row["due_date"]),
                "days_past_due": (cfg.run_date() - row["due_date"]).days,
                "last_paid_on": None if row["last_paid_on"] is None else str(row["last_paid_on"]),
                "invoice_status": row["status"],
            },
        )


def _unapplied(session: Session, period: str, cfg: ReconcileSettings) -> Iterator[Finding]:
    payout = (
        select(BillingEvent.id)
        .where(
            BillingEvent.bank_trace_id == Payment.bank_trace_id,
            BillingEvent.transaction_type == DISBURSEMENT,
            is_current(BillingEvent),
        )
        .exists()
    )
    query = (
        select(
            Payment.payment_id,
            Payment.account_id,
            Payment.channel,
            Payment.kind,
            Payment.currency,
            Payment.amount,
            Payment.received_date,
            Payment.invoice_number,
            Payment.payer,
            Payment.bank_trace_id,
        )
        .outerjoin(Invoice, Invoice.invoice_number == Payment.invoice_number)
        .where(
            Payment.kind.in_(CASH_KINDS),
            Invoice.id.is_(None),
            in_period(Payment.received_date, period),
            ~payout,
        )
        .order_by(Payment.payment_id)
    )
    for row in session.execute(query).mappings():
        amount = quantize(Decimal(row["amount"]), row["currency"])
        named = (
            f"names invoice {row['invoice_number']}, which we do not know"
            if row["invoice_number"]
            else "names no invoice"
        )
        yield Finding(
            rule=RULE,
            kind="unapplied_cash",
            period=period,
            channel=row["channel"] or "direct",
            account_id=row["account_id"],
            key_parts=(row["payment_id"],),
            currency=row["currency"],
            expected_amount=Decimal(0),
            observed_amount=amount,
            description=(
                f"{row['kind'].replace('_', ' ').capitalize()} {row['payment_id']} of {amount} "
                f"{row['currency']} received {row['received_date']} {named}."
            ),
            record_refs={"payments": [row["payment_id"]]},
            details={
                "payment_kind": row["kind"],
                "received_date": str(row["received_date"]),
                "invoice_number": row["invoice_number"],
                "payer": row["payer"],
                "bank_trace_id": row["bank_trace_id"],
                "account_identified": row["account_id"] is not None,
            },
        )
