"""Credits: what the marketplace credited vs our credit notes; direct credit notes vs the invoice.

DOMAIN.md, `credit_misapplied`: `_CREDIT` rows vs credit notes. Kind `credit_mismatch`, raised
- per marketplace invoice: |Σ SELLER_REV_SHARE_CREDIT| ≠ Σ our credit notes on that invoice
  (a credit note names our invoice, whose `partner_invoice_id` is the marketplace's, or the
  marketplace invoice id itself);
- per direct invoice: credit notes beyond the invoice total, in another currency, or for
  another account;
- per credit note naming an invoice that exists nowhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select, union
from sqlalchemy.orm import Session

from billing.models import CreditNote, Invoice
from billing.money import quantize
from billing.reconcile.config import ReconcileSettings, current
from billing.reconcile.findings import Finding
from billing.reconcile.partner_events import (
    INVOICED,
    SELLER_REV_SHARE,
    Event,
    Parent,
    account_id_for,
    in_period,
    invoice_billed_dates,
    invoice_key,
    is_current,
    product_code_for,
)
from billing.reconcile.sql import id_list, month_of, split_ids

RULE = "credits_vs_credit_notes"
KIND = "credit_mismatch"
GROSS_CREDIT = f"{SELLER_REV_SHARE}_CREDIT"


def _marketplace_credits() -> Any:
    """Per credited buyer invoice: |Σ SELLER_REV_SHARE_CREDIT| and the credit rows."""
    ev, parent = Event, Parent
    key = func.coalesce(
        parent.buyer_invoice_id, parent.invoice_id, ev.buyer_invoice_id, ev.invoice_id
    )
    return (
        select(
            key.label("invoice_key"),
            func.min(ev.currency).label("currency"),
            func.min(func.coalesce(ev.end_user_account_id, parent.end_user_account_id)).label(
                "end_user"
            ),
            func.min(func.coalesce(ev.product_id, parent.product_id)).label("product_id"),
            func.min(
                func.coalesce(
                    ev.usage_period_start_date, parent.usage_period_start_date, ev.invoice_date
                )
            ).label("billed_on"),
            func.abs(
                func.sum(case((ev.transaction_type == GROSS_CREDIT, ev.amount), else_=0))
            ).label("credited"),
            id_list(ev.billing_event_id).label("event_ids"),
        )
        .outerjoin(parent, parent.billing_event_id == ev.parent_billing_event_id)
        .where(is_current(ev), ev.action == INVOICED, ev.transaction_type.endswith("_CREDIT"))
        .group_by(key)
        .subquery("credits")
    )


def _marketplace_invoice_ids() -> Any:
    ev = Event
    return (
        select(invoice_key(ev).label("invoice_key"))
        .where(is_current(ev))
        .distinct()
        .subquery("mkt_invoices")
    )


def _marketplace_notes() -> Any:
    """Per marketplace invoice id: Σ of our credit notes on it."""
    mkt = _marketplace_invoice_ids()
    key = func.coalesce(Invoice.partner_invoice_id, mkt.c.invoice_key)
    return (
        select(
            key.label("invoice_key"),
            func.sum(CreditNote.amount).label("noted"),
            func.min(CreditNote.currency).label("note_currency"),
            func.min(CreditNote.account_id).label("note_account"),
            func.min(Invoice.period).label("invoice_period"),
            func.min(Invoice.channel).label("invoice_channel"),
            func.min(month_of(CreditNote.issue_date)).label("issue_month"),
            id_list(CreditNote.credit_note_number).label("note_ids"),
            id_list(Invoice.invoice_number).label("invoice_numbers"),
        )
        .outerjoin(Invoice, Invoice.invoice_number == CreditNote.invoice_number)
        .outerjoin(mkt, mkt.c.invoice_key == CreditNote.invoice_number)
        .where(
            or_(
                and_(
                    Invoice.id.is_not(None),
                    Invoice.channel != "direct",
                    Invoice.partner_invoice_id.is_not(None),
                ),
                mkt.c.invoice_key.is_not(None),
            )
        )
        .group_by(key)
        .subquery("notes")
    )


def find(session: Session, period: str) -> Iterator[Finding]:
    """Credit findings of `period`."""
    cfg = current()
    yield from _marketplace(session, period, cfg)
    yield from _direct(session, period, cfg)
    yield from _orphans(session, period, cfg)


def _marketplace(session: Session, period: str, cfg: ReconcileSettings) -> Iterator[Finding]:
    credits, notes, billed = _marketplace_credits(), _marketplace_notes(), invoice_billed_dates()
    keys = union(select(credits.c.invoice_key), select(notes.c.invoice_key)).subquery("credit_keys")
    billed_on = func.coalesce(billed.c.billed_on, credits.c.billed_on)
    in_month = case(
        (billed_on.is_not(None), in_period(billed_on, period)),
        else_=func.coalesce(notes.c.invoice_period, notes.c.issue_month) == period,
    )
    query = (
        select(
            keys.c.invoice_key,
            credits.c.currency,
            credits.c.credited,
            credits.c.event_ids,
            notes.c.noted,
            notes.c.note_currency,
            notes.c.note_account,
            notes.c.invoice_channel,
            notes.c.note_ids,
            notes.c.invoice_numbers,
            account_id_for(credits.c.end_user).label("end_user_account"),
            product_code_for(credits.c.product_id).label("product_code"),
        )
        .select_from(keys)
        .outerjoin(credits, credits.c.invoice_key == keys.c.invoice_key)
        .outerjoin(notes, notes.c.invoice_key == keys.c.invoice_key)
        .outerjoin(billed, billed.c.invoice_key == keys.c.invoice_key)
        .where(in_month)
        .order_by(keys.c.invoice_key)
    )
    for row in session.execute(query).mappings():
        currency = row["currency"] or row["note_currency"]
        credited = quantize(Decimal(row["credited"] or 0), currency)
        noted = quantize(Decimal(row["noted"] or 0), currency)
        if abs(credited - noted) <= cfg.amount_tolerance:
            continue
        refs: dict[str, list[str]] = {}
        if row["event_ids"]:
            refs["billing_events"] = split_ids(row["event_ids"], cfg.max_record_refs)
        if row["note_ids"]:
            refs["credit_notes"] = split_ids(row["note_ids"], cfg.max_record_refs)
        if row["invoice_numbers"]:
            refs["invoices"] = split_ids(row["invoice_numbers"], cfg.max_record_refs)
        yield Finding(
            rule=RULE,
            kind=KIND,
            period=period,
            channel=row["invoice_channel"] or "aws_marketplace",
            account_id=row["end_user_account"] or row["note_account"],
            key_parts=("marketplace", row["invoice_key"]),
            product_code=row["product_code"],
            currency=currency,
            expected_amount=noted,
            observed_amount=credited,
            description=(
                f"Marketplace invoice {row['invoice_key']}: credited {credited} {currency}; "
                f"our credit "
                f"notes on it total {noted} {currency}."
            ),
            record_refs=refs,
            details={
                "side": "marketplace",
                "invoice_id": row["invoice_key"],
                "marketplace_credit": str(credited),
                "credit_notes_total": str(noted),
            },
        )


def _direct(session: Session, period: str, cfg: ReconcileSettings) -> Iterator[Finding]:
    query = (
        select(
            Invoice.invoice_number,
            Invoice.account_id,
            Invoice.currency,
            Invoice.total,
            Invoice.channel,
            func.sum(CreditNote.amount).label("noted"),
            func.sum(case((CreditNote.currency != Invoice.currency, 1), else_=0)).label(
                "other_currency"
            ),
            func.sum(case((CreditNote.account_id != Invoice.account_id, 1), else_=0)).label(
                "other_account"
            ),
            id_list(CreditNote.credit_note_number).label("note_ids"),
        )
        .join(CreditNote, CreditNote.invoice_number == Invoice.invoice_number)
        .where(Invoice.period == period, Invoice.partner_invoice_id.is_(None))
        .group_by(
            Invoice.invoice_number,
            Invoice.account_id,
            Invoice.currency,
            Invoice.total,
            Invoice.channel,
        )
        .order_by(Invoice.invoice_number)
    )
    for row in session.execute(query).mappings():
        currency = row["currency"]
        total, noted = (
            quantize(Decimal(row["total"]), currency),
            quantize(Decimal(row["noted"]), currency),
        )
        reasons = [
            reason
            for reason, hit in (
                ("credit_exceeds_invoice", noted - total > cfg.amount_tolerance),
                ("credit_in_another_currency", row["other_currency"] > 0),
                ("credit_for_another_account", row["other_account"] > 0),
            )
            if hit
        ]
        if not reasons:
            continue
        yield Finding(
            rule=RULE,
            kind=KIND,
            period=period,
            channel=row["channel"],
            account_id=row["account_id"],
            key_parts=("invoice", row["invoice_number"]),
            currency=currency,
            expected_amount=min(noted, total),
            observed_amount=noted,
            description=(
                f"Credit notes on invoice {row['invoice_number']} ({total} {currency}) "
                f"total {noted}: "
                f"{', '.join(r.replace('_', ' ') for r in reasons)}."
            ),
            record_refs={
                "invoices": [row["invoice_number"]],
                "credit_notes": split_ids(row["note_ids"], cfg.max_record_refs),
            },
            details={
                "side": "direct",
                "reasons": reasons,
                "invoice_total": str(total),
                "credit_notes_total": str(noted),
            },
        )


def _orphans(session: Session, period: str, cfg: ReconcileSettings) -> Iterator[Finding]:
    mkt = _marketplace_invoice_ids()
    query = (
        select(
            CreditNote.credit_note_number,
            CreditNote.account_id,
            CreditNote.currency,
            CreditNote.amount,
            CreditNote.invoice_number,
        )
        .outerjoin(Invoice, Invoice.invoice_number == CreditNote.invoice_number)
        .outerjoin(mkt, mkt.c.invoice_key == CreditNote.invoice_number)
        .where(
            CreditNote.invoice_number.is_not(None),
            Invoice.id.is_(None),
            mkt.c.invoice_key.is_(None),
            month_of(CreditNote.issue_date) == period,
        )
        .order_by(CreditNote.credit_note_number)
    )
    for row in session.execute(query).mappings():
        amount = quantize(Decimal(row["amount"]), row["currency"])
        yield Finding(
            rule=RULE,
            kind=KIND,
            period=period,
            channel="direct",
            account_id=row["account_id"],
            key_parts=("note", row["credit_note_number"]),
            currency=row["currency"],
            expected_amount=Decimal(0),
            observed_amount=amount,
            description=(
                f"Credit note {row['credit_note_number']} of {amount} {row['currency']} names "
                f"invoice {row['invoice_number']}, which exists neither in our invoices nor in "
                "the marketplace feed."
            ),
            record_refs={"credit_notes": [row["credit_note_number"]]},
            details={"side": "unknown_invoice", "invoice_number": row["invoice_number"]},
        )
