"""What the marketplace disbursed vs the net it invoiced, once the money is due.

Per account × product × currency of a billed month: net billed = Σ balance-impacting INVOICED
rows (SELLER_REV_SHARE + AWS_REV_SHARE + SELLER_TAX_SHARE, their refunds and credits, balance
adjustments) less what AWS forgave; disbursed = −Σ the DISBURSED rows offsetting them (AWS:
a DISBURSED row offsets its INVOICED parent through `parent_billing_event_id`). Only invoiced
rows whose `payment_due_date` + grace has passed on the run date count (AWS disburses only
after the buyer pays, DOMAIN.md). Rows of a payout that failed (DISBURSEMENT_FAILURE) count as not
disbursed. Kinds: `undisbursed`, `short_disbursed`, `over_disbursed`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from billing.models import BillingEvent
from billing.money import quantize
from billing.reconcile.config import current
from billing.reconcile.findings import Finding
from billing.reconcile.linked import linked_finding, with_contract
from billing.reconcile.partner_events import (
    AWS_REV_SHARE,
    AWS_TAX_SHARE,
    DISBURSED,
    FORGIVEN,
    INVOICED,
    PAYOUT_TYPES,
    SELLER_REV_SHARE,
    SELLER_TAX_SHARE,
    Event,
    Parent,
    billed_date,
    in_period,
    is_current,
    payout_failed,
    signed_amount,
)
from billing.reconcile.sql import id_list, split_ids

RULE = "disbursed_vs_invoiced"
# Buyer terms are net 30 by default; a row without a due date is due 30 days after its invoice.
DEFAULT_TERMS_DAYS = 30


def _offsets(action: str, label: str) -> Any:
    """Per INVOICED parent id: Σ of the rows of `action` that offset it, and their payouts."""
    child = aliased(BillingEvent, name=f"{label}_row")
    amount = -func.sum(child.amount) if action == DISBURSED else func.sum(signed_amount(child))
    # Rows of a payout that bounced (DISBURSEMENT_FAILURE) never reached us: not disbursed.
    bounced = payout_failed(child.disbursement_billing_event_id) if action == DISBURSED else None
    return (
        select(
            child.parent_billing_event_id.label("parent_id"),
            amount.label(label),
            id_list(child.disbursement_billing_event_id).label(f"{label}_payouts"),
        )
        .where(
            is_current(child),
            child.action == action,
            child.parent_billing_event_id.is_not(None),
            child.transaction_type.not_in(PAYOUT_TYPES),
            *([~bounced] if bounced is not None else []),
        )
        .group_by(child.parent_billing_event_id)
        .subquery(f"{label}_offsets")
    )


def _due_rows(period: str) -> Any:
    """The balance-impacting INVOICED rows of the billed month whose payment is due."""
    cfg = current()
    cutoff = cfg.run_date() - timedelta(days=cfg.disbursement_grace_days)
    ev, parent = Event, Parent
    due = or_(
        ev.payment_due_date < cutoff,
        and_(
            ev.payment_due_date.is_(None),
            ev.invoice_date < cutoff - timedelta(days=DEFAULT_TERMS_DAYS),
        ),
    )
    return (
        select(
            ev.billing_event_id,
            ev.end_user_account_id,
            ev.product_id,
            ev.agreement_id,
            ev.currency,
            ev.transaction_type,
            ev.amount,
            ev.invoice_id,
            ev.payment_due_date,
            billed_date(ev, parent).label("billed_on"),
        )
        .outerjoin(parent, parent.billing_event_id == ev.parent_billing_event_id)
        .where(
            is_current(ev),
            ev.action == INVOICED,
            ev.balance_impacting.is_(True),
            ev.transaction_type.not_in([*PAYOUT_TYPES, AWS_TAX_SHARE]),
            due,
            in_period(billed_date(ev, parent), period),
        )
        .subquery("due_rows")
    )


def _per_account(period: str) -> Any:
    rows, paid, forgiven = (
        _due_rows(period),
        _offsets(DISBURSED, "disbursed"),
        _offsets(FORGIVEN, "forgiven"),
    )

    def of_type(name: str) -> Any:
        return func.sum(case((rows.c.transaction_type == name, rows.c.amount), else_=0))

    return (
        select(
            rows.c.end_user_account_id.label("end_user"),
            rows.c.product_id,
            rows.c.currency,
            func.min(rows.c.agreement_id).label("agreement_id"),
            func.min(rows.c.billed_on).label("billed_on"),
            func.sum(rows.c.amount).label("invoiced_net"),
            of_type(SELLER_REV_SHARE).label("gross"),
            of_type(AWS_REV_SHARE).label("listing_fee"),
            of_type(SELLER_TAX_SHARE).label("seller_tax"),
            func.sum(
                case((rows.c.transaction_type.endswith("_REFUND"), rows.c.amount), else_=0)
            ).label("refunds"),
            func.sum(
                case((rows.c.transaction_type.endswith("_CREDIT"), rows.c.amount), else_=0)
            ).label("credits"),
            func.coalesce(func.sum(forgiven.c.forgiven), 0).label("forgiven"),
            func.coalesce(func.sum(paid.c.disbursed), 0).label("disbursed"),
            func.max(rows.c.payment_due_date).label("last_due"),
            id_list(rows.c.billing_event_id).label("event_ids"),
            id_list(rows.c.invoice_id).label("invoice_ids"),
            id_list(paid.c.disbursed_payouts).label("payout_ids"),
        )
        .outerjoin(paid, paid.c.parent_id == rows.c.billing_event_id)
        .outerjoin(forgiven, forgiven.c.parent_id == rows.c.billing_event_id)
        .group_by(rows.c.end_user_account_id, rows.c.product_id, rows.c.currency)
        .subquery("per_account")
    )


def find(session: Session, period: str) -> Iterator[Finding]:
    """Account × product months whose disbursed amount differs from the net due."""
    cfg = current()
    query = with_contract(_per_account(period), ("end_user", "product_id", "currency"))
    for row in session.execute(query).mappings():
        finding = _compare(row, period, cfg.amount_tolerance, cfg.max_record_refs)
        if finding is not None:
            yield finding


def _compare(row: Any, period: str, tolerance: Decimal, max_refs: int) -> Finding | None:
    currency = row["currency"]
    expected = quantize(Decimal(row["invoiced_net"]) - Decimal(row["forgiven"]), currency)
    observed = quantize(Decimal(row["disbursed"]), currency)
    if abs(observed - expected) <= tolerance:
        return None
    if abs(observed) <= tolerance:
        kind, words = "undisbursed", "nothing was disbursed"
    elif observed < expected:
        kind, words = "short_disbursed", "less was disbursed"
    else:
        kind, words = "over_disbursed", "more was disbursed"
    payouts = split_ids(row["payout_ids"], max_refs)
    label = row["product_code"] or row["product_id"] or "-"
    return linked_finding(
        row,
        rule=RULE,
        period=period,
        currency=currency,
        refs={"billing_events": split_ids(row["event_ids"], max_refs)},
        kind=kind,
        key_parts=(row["end_user"] or "-", label, currency),
        expected_amount=expected,
        observed_amount=observed,
        description=(
            f"Net invoiced for {period} (due by {row['last_due'] or 'invoice date + 30 days'}) "
            f"is {expected} {currency}; "
            f"{words}: {observed} {currency}."
        ),
        details={
            "end_user_account_id": row["end_user"],
            "invoice_ids": split_ids(row["invoice_ids"], max_refs),
            "payout_ids": payouts,
            "invoiced_net": _s(row["invoiced_net"]),
            "gross": _s(row["gross"]),
            "listing_fee": _s(row["listing_fee"]),
            "seller_tax": _s(row["seller_tax"]),
            "refunds": _s(row["refunds"]),
            "credits": _s(row["credits"]),
            "forgiven": _s(row["forgiven"]),
            "disbursed": _s(row["disbursed"]),
            "last_payment_due_date": None if row["last_due"] is None else str(row["last_due"]),
        },
    )


def _s(value: Any) -> str:
    return format(Decimal(value).normalize(), "f")
