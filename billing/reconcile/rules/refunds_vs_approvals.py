"""Marketplace refunds vs the refunds we approved.

DOMAIN.md: private-offer refunds need the seller's approval (the refund request form). The
feed shows a refund as INVOICED rows of type `<type>_REFUND` (SELLER_REV_SHARE_REFUND,
AWS_REV_SHARE_REFUND, ...). Per refunded buyer invoice:
- `refund_without_approval`: refunded, but no approved request for that invoice matches the
  amount (the gross refunded, with or without the tax refunded);
- `approved_refund_missing`: an approved request for an invoice with no refund row at all,
  once `refund_grace_days` have passed since approval.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from billing.models import RefundRequest
from billing.money import quantize
from billing.reconcile.config import ReconcileSettings, current
from billing.reconcile.findings import Finding
from billing.reconcile.linked import linked_finding, with_contract
from billing.reconcile.partner_events import (
    INVOICED,
    SELLER_REV_SHARE,
    Event,
    Parent,
    adjusted_invoice_key,
    in_period,
    inherited_parties,
    invoice_billed_dates,
    is_current,
)
from billing.reconcile.sql import id_list, split_ids

RULE = "refunds_vs_approvals"
GROSS_REFUND = f"{SELLER_REV_SHARE}_REFUND"


def _refunds() -> Any:
    """Per refunded buyer invoice: gross and tax refunded, and the refund rows (all periods)."""
    ev, parent = Event, Parent
    key = adjusted_invoice_key(ev, parent)
    billed = invoice_billed_dates()
    return (
        select(
            key.label("invoice_key"),
            ev.currency,
            *inherited_parties(ev, parent),
            func.min(
                func.coalesce(
                    ev.usage_period_start_date,
                    parent.usage_period_start_date,
                    billed.c.billed_on,
                    ev.invoice_date,
                )
            ).label("billed_on"),
            func.abs(
                func.sum(case((ev.transaction_type == GROSS_REFUND, ev.amount), else_=0))
            ).label("gross"),
            func.abs(
                func.sum(
                    case((ev.transaction_type.endswith("_TAX_SHARE_REFUND"), ev.amount), else_=0)
                )
            ).label("tax"),
            func.max(ev.invoice_date).label("refunded_on"),
            id_list(ev.billing_event_id).label("event_ids"),
        )
        .outerjoin(parent, parent.billing_event_id == ev.parent_billing_event_id)
        .outerjoin(billed, billed.c.invoice_key == key)
        .where(is_current(ev), ev.action == INVOICED, ev.transaction_type.endswith("_REFUND"))
        .group_by(key, ev.currency)
        .subquery("refunds")
    )


def _requests() -> Any:
    """Per partner invoice id: approved total and every request of any status."""
    approved = RefundRequest.status == "approved"
    return (
        select(
            RefundRequest.partner_invoice_id.label("invoice_key"),
            func.min(RefundRequest.account_id).label("request_account_id"),
            func.min(RefundRequest.channel).label("request_channel"),
            func.min(RefundRequest.currency).label("request_currency"),
            func.sum(case((approved, RefundRequest.amount), else_=0)).label("approved"),
            func.sum(case((approved, 1), else_=0)).label("approved_count"),
            func.max(RefundRequest.approved_date).label("approved_on"),
            func.min(RefundRequest.requested_date).label("requested_on"),
            id_list(RefundRequest.request_id).label("request_ids"),
            id_list(case((approved, RefundRequest.request_id))).label("approved_ids"),
            id_list(RefundRequest.request_id + ":" + RefundRequest.status).label("statuses"),
        )
        .where(RefundRequest.partner_invoice_id.is_not(None), RefundRequest.channel != "direct")
        .group_by(RefundRequest.partner_invoice_id)
        .subquery("requests")
    )


def find(session: Session, period: str) -> Iterator[Finding]:
    """Refund findings of the billed month `period`."""
    cfg = current()
    yield from _unapproved(session, period, cfg)
    yield from _missing(session, period, cfg)


def _unapproved(session: Session, period: str, cfg: ReconcileSettings) -> Iterator[Finding]:
    refunds, requests = _refunds(), _requests()
    query = (
        with_contract(
            refunds,
            ("invoice_key", "currency"),
            requests.c.approved,
            requests.c.approved_count,
            requests.c.approved_ids,
            requests.c.statuses,
        )
        .outerjoin(requests, requests.c.invoice_key == refunds.c.invoice_key)
        .where(in_period(refunds.c.billed_on, period), refunds.c.gross > 0)
    )
    for row in session.execute(query).mappings():
        currency = row["currency"]
        gross, tax = (
            quantize(Decimal(row["gross"]), currency),
            quantize(Decimal(row["tax"]), currency),
        )
        approved = quantize(Decimal(row["approved"] or 0), currency)
        if (row["approved_count"] or 0) > 0 and min(
            abs(approved - gross), abs(approved - gross - tax)
        ) <= cfg.amount_tolerance:
            continue
        refs = {"billing_events": split_ids(row["event_ids"], cfg.max_record_refs)}
        if row["approved_ids"]:
            refs["refund_requests"] = split_ids(row["approved_ids"], cfg.max_record_refs)
        yield linked_finding(
            row,
            rule=RULE,
            period=period,
            currency=currency,
            refs=refs,
            kind="refund_without_approval",
            key_parts=(row["invoice_key"], currency),
            expected_amount=approved,
            observed_amount=gross,
            description=(
                f"The marketplace refunded {gross} {currency} (plus {tax} tax) on invoice "
                f"{row['invoice_key']}; approved refunds for it: {approved} {currency}."
            ),
            details={
                "invoice_id": row["invoice_key"],
                "refunded_gross": str(gross),
                "refunded_tax": str(tax),
                "approved_total": str(approved),
                "requests": split_ids(row["statuses"], cfg.max_record_refs),
                "refunded_on": None if row["refunded_on"] is None else str(row["refunded_on"]),
            },
        )


def _missing(session: Session, period: str, cfg: ReconcileSettings) -> Iterator[Finding]:
    requests, refunds, billed = _requests(), _refunds(), invoice_billed_dates()
    cutoff = cfg.run_date() - timedelta(days=cfg.refund_grace_days)
    billed_on = func.coalesce(billed.c.billed_on, requests.c.requested_on)
    query = (
        select(requests, billed_on.label("billed_on"))
        .outerjoin(billed, billed.c.invoice_key == requests.c.invoice_key)
        .where(
            requests.c.approved_count > 0,
            requests.c.approved_on <= cutoff,
            in_period(billed_on, period),
            ~select(refunds.c.invoice_key)
            .where(refunds.c.invoice_key == requests.c.invoice_key)
            .exists(),
        )
        .order_by(requests.c.invoice_key)
    )
    for row in session.execute(query).mappings():
        currency = row["request_currency"]
        approved = quantize(Decimal(row["approved"]), currency)
        yield Finding(
            rule=RULE,
            kind="approved_refund_missing",
            period=period,
            channel=row["request_channel"],
            account_id=row["request_account_id"],
            key_parts=(row["invoice_key"],),
            currency=currency,
            expected_amount=approved,
            observed_amount=Decimal(0),
            description=(
                f"Refund of {approved} {currency} on invoice {row['invoice_key']} approved on "
                f"{row['approved_on']}; the marketplace shows no refund for that invoice."
            ),
            record_refs={"refund_requests": split_ids(row["approved_ids"], cfg.max_record_refs)},
            details={
                "invoice_id": row["invoice_key"],
                "approved_total": str(approved),
                "approved_on": str(row["approved_on"]),
                "requests": split_ids(row["statuses"], cfg.max_record_refs),
            },
        )
