"""Payouts that do not add up, failed, or never reached the bank.

AWS: a payout is a row of transaction_type DISBURSEMENT (action DISBURSED, negative total);
the DISBURSED rows it pays point to it through `disbursement_billing_event_id`; its
`bank_trace_id` matches the bank statement (our `payments`). Kinds, per payout:
`disbursement_sum_mismatch` (payout ≠ Σ of its rows), `disbursement_failed` (a
DISBURSEMENT_FAILURE row), `bank_receipt_missing` (no payment carries its bank trace id once
`bank_receipt_grace_days` have passed). Amounts are stated as money paid to us (positive).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from billing.models import BillingEvent, Payment
from billing.money import quantize
from billing.reconcile.config import ReconcileSettings, current
from billing.reconcile.findings import Finding
from billing.reconcile.linked import linked_finding, with_contract
from billing.reconcile.partner_events import (
    DISBURSEMENT,
    DISBURSEMENT_FAILURE,
    billed_date,
    in_period,
    is_current,
    payout_children,
    payout_failed,
)
from billing.reconcile.sql import split_ids

RULE = "disbursement_integrity"

Payout = aliased(BillingEvent, name="payout")
Failure = aliased(BillingEvent, name="failure")


def _payouts(period: str) -> Any:
    """Every current payout of the billed month, with the Σ of its rows and its bank receipt."""
    children = payout_children()
    billed_on = func.coalesce(children.c.billed_on, billed_date(Payout))
    failed = payout_failed(Payout.billing_event_id)
    receipt = (
        select(func.count(Payment.id))
        .where(Payment.bank_trace_id == Payout.bank_trace_id)
        .scalar_subquery()
    )
    return (
        select(
            Payout.billing_event_id.label("payout_id"),
            Payout.amount,
            Payout.currency,
            Payout.bank_trace_id,
            func.coalesce(Payout.action_date, Payout.invoice_date).label("paid_on"),
            billed_on.label("billed_on"),
            func.coalesce(children.c.end_user, Payout.end_user_account_id).label("end_user"),
            func.coalesce(children.c.product_id, Payout.product_id).label("product_id"),
            func.coalesce(children.c.agreement_id, Payout.agreement_id).label("agreement_id"),
            func.coalesce(children.c.children_total, 0).label("children_total"),
            func.coalesce(children.c.children_count, 0).label("children_count"),
            children.c.child_ids,
            failed.label("failed"),
            receipt.label("receipts"),
        )
        .outerjoin(children, children.c.payout_id == Payout.billing_event_id)
        .where(
            is_current(Payout),
            Payout.transaction_type == DISBURSEMENT,
            in_period(billed_on, period),
        )
        .subquery("payouts")
    )


def _failures(period: str) -> Any:
    """Every current DISBURSEMENT_FAILURE row of the billed month, with the payout it names."""
    children = payout_children()
    payout_ref = func.coalesce(
        Failure.disbursement_billing_event_id, Failure.parent_billing_event_id
    )
    billed_on = func.coalesce(children.c.billed_on, billed_date(Payout), billed_date(Failure))
    return (
        select(
            Failure.billing_event_id.label("failure_id"),
            Failure.amount,
            Failure.currency,
            Failure.bank_trace_id,
            payout_ref.label("payout_id"),
            Payout.amount.label("payout_amount"),
            func.coalesce(Failure.action_date, Failure.invoice_date).label("failed_on"),
            billed_on.label("billed_on"),
            func.coalesce(children.c.end_user, Failure.end_user_account_id).label("end_user"),
            func.coalesce(children.c.product_id, Failure.product_id).label("product_id"),
            func.coalesce(children.c.agreement_id, Failure.agreement_id).label("agreement_id"),
        )
        .outerjoin(Payout, and_(Payout.billing_event_id == payout_ref, is_current(Payout)))
        .outerjoin(children, children.c.payout_id == payout_ref)
        .where(
            is_current(Failure),
            Failure.transaction_type == DISBURSEMENT_FAILURE,
            in_period(billed_on, period),
        )
        .subquery("failures")
    )


def find(session: Session, period: str) -> Iterator[Finding]:
    """Payout findings of the billed month `period`."""
    cfg = current()
    for row in session.execute(with_contract(_payouts(period), ("payout_id",))).mappings():
        yield from _payout_findings(row, period, cfg)
    for row in session.execute(with_contract(_failures(period), ("failure_id",))).mappings():
        yield _failure_finding(row, period, cfg)


def _payout_findings(row: Any, period: str, cfg: ReconcileSettings) -> Iterator[Finding]:
    currency = row["currency"]
    paid = quantize(-Decimal(row["amount"]), currency)
    owed = quantize(-Decimal(row["children_total"]), currency)
    refs = {"billing_events": [row["payout_id"], *split_ids(row["child_ids"], cfg.max_record_refs)]}
    common: dict[str, Any] = {"rule": RULE, "period": period, "currency": currency, "refs": refs}
    details = {
        "payout_id": row["payout_id"],
        "bank_trace_id": row["bank_trace_id"],
        "paid_on": None if row["paid_on"] is None else str(row["paid_on"]),
        "rows_paid": int(row["children_count"]),
        "sum_of_rows": str(owed),
        "payout_amount": str(paid),
    }
    if abs(paid - owed) > cfg.amount_tolerance:
        yield linked_finding(
            row,
            kind="disbursement_sum_mismatch",
            key_parts=(row["payout_id"],),
            expected_amount=owed,
            observed_amount=paid,
            details=details,
            description=(
                f"Payout {row['payout_id']} is {paid} {currency}; the {row['children_count']} "
                f"rows it pays add up to {owed} {currency}."
            ),
            **common,
        )
    cutoff = cfg.run_date() - timedelta(days=cfg.bank_receipt_grace_days)
    waited = row["paid_on"] is not None and row["paid_on"] <= cutoff
    if not row["failed"] and not row["receipts"] and waited:
        trace = row["bank_trace_id"] or "(none)"
        yield linked_finding(
            row,
            kind="bank_receipt_missing",
            key_parts=(row["payout_id"],),
            expected_amount=paid,
            observed_amount=Decimal(0),
            details=details,
            description=(
                f"Payout {row['payout_id']} of {paid} {currency} on {row['paid_on']}: no bank "
                f"receipt carries its bank trace id {trace}."
            ),
            **common,
        )


def _failure_finding(row: Any, period: str, cfg: ReconcileSettings) -> Finding:
    currency = row["currency"]
    source = row["payout_amount"] if row["payout_amount"] is not None else row["amount"]
    expected = quantize(abs(Decimal(source)), currency)
    refs = {
        "billing_events": sorted(
            {row["failure_id"], *([row["payout_id"]] if row["payout_id"] else [])}
        )
    }
    return linked_finding(
        row,
        rule=RULE,
        period=period,
        currency=currency,
        refs=refs,
        kind="disbursement_failed",
        key_parts=(row["failure_id"],),
        expected_amount=expected,
        observed_amount=Decimal(0),
        description=(
            f"Disbursement failure {row['failure_id']} on {row['failed_on']}"
            f"{' for payout ' + row['payout_id'] if row['payout_id'] else ''}: "
            f"{expected} {currency} "
            "did not reach the bank."
        ),
        details={
            "failure_id": row["failure_id"],
            "payout_id": row["payout_id"],
            "bank_trace_id": row["bank_trace_id"],
            "failed_on": None if row["failed_on"] is None else str(row["failed_on"]),
            "failure_amount": format(Decimal(row["amount"]).normalize(), "f"),
        },
    )
