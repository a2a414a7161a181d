"""Listing fee charged by the marketplace vs the fee rate of the contract.

Per buyer invoice: observed rate = |Σ AWS_REV_SHARE| / Σ SELLER_REV_SHARE (INVOICED rows);
contracted rate = the contract's `listing_fee_rate`, or AWS's schedule
(`billing.fees.expected_listing_fee_rate`) when the contract names none. A difference beyond
the rate tolerance that rounding cannot explain is a `listing_fee_rate_mismatch`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from billing.fees import FeeScheduleError, expected_listing_fee_rate
from billing.models import Contract
from billing.money import quantize
from billing.reconcile.config import current
from billing.reconcile.findings import Finding
from billing.reconcile.linked import linked_finding, with_contract
from billing.reconcile.partner_events import (
    AWS_REV_SHARE,
    INVOICED,
    SELLER_REV_SHARE,
    Event,
    billed_date,
    in_period,
    invoice_key,
    is_current,
)
from billing.reconcile.sql import id_list, split_ids

RULE = "listing_fee_vs_contract"
KIND = "listing_fee_rate_mismatch"


def _per_invoice(period: str) -> Any:
    ev = Event
    is_gross = ev.transaction_type == SELLER_REV_SHARE
    gross = func.sum(case((is_gross, ev.amount), else_=0))
    fee = func.sum(case((ev.transaction_type == AWS_REV_SHARE, ev.amount), else_=0))
    billed_on = func.min(billed_date(ev))
    return (
        select(
            invoice_key(ev).label("invoice_key"),
            ev.currency.label("currency"),
            # Fee rows may sit on the seller's listing-fee invoice; the buyer comes from gross rows.
            func.min(case((is_gross, ev.end_user_account_id))).label("end_user"),
            func.min(case((is_gross, ev.product_id))).label("product_id"),
            func.min(ev.agreement_id).label("agreement_id"),
            billed_on.label("billed_on"),
            gross.label("gross"),
            fee.label("fee"),
            id_list(ev.billing_event_id).label("event_ids"),
        )
        .where(
            is_current(ev),
            ev.action == INVOICED,
            ev.transaction_type.in_([SELLER_REV_SHARE, AWS_REV_SHARE]),
            # An invoice's rows (its fee rows too) share its usage period: filter before grouping.
            in_period(billed_date(ev), period),
        )
        .group_by(invoice_key(ev), ev.currency)
        .having(gross > 0)
        .subquery("per_invoice")
    )


def find(session: Session, period: str) -> Iterator[Finding]:
    """Invoices of `period` whose listing-fee rate differs from the contracted one."""
    cfg = current()
    query = with_contract(
        _per_invoice(period),
        ("invoice_key", "currency"),
        Contract.listing_fee_rate,
        Contract.total_contract_value,
        Contract.is_renewal,
        Contract.is_private_offer,
        Contract.reseller_account_id,
    )
    for row in session.execute(query).mappings():
        finding = _compare(
            row, period, cfg.listing_fee_rate_tolerance, cfg.amount_tolerance, cfg.max_record_refs
        )
        if finding is not None:
            yield finding


def _compare(
    row: Any, period: str, rate_tol: Decimal, amount_tol: Decimal, max_refs: int
) -> Finding | None:
    gross, fee_paid = Decimal(row["gross"]), abs(Decimal(row["fee"]))
    terms = _contract_terms(row)
    contracted, source = terms["contracted_rate"], terms["rate_source"]
    if contracted is None:  # neither the contract nor the schedule can say what the fee should be
        return None
    observed_rate = fee_paid / gross
    expected_fee = quantize(gross * contracted, row["currency"])
    if abs(observed_rate - contracted) <= rate_tol or abs(fee_paid - expected_fee) <= amount_tol:
        return None
    shown = observed_rate.quantize(Decimal("0.000001"))
    return linked_finding(
        row,
        rule=RULE,
        period=period,
        currency=row["currency"],
        refs={"billing_events": split_ids(row["event_ids"], max_refs)},
        kind=KIND,
        key_parts=(row["invoice_key"],),
        expected_amount=expected_fee,
        observed_amount=fee_paid,
        description=(
            f"Listing fee on marketplace invoice {row['invoice_key']}: "
            f"{fee_paid} {row['currency']} "
            f"on gross {gross} is a rate of {shown}; the {source} rate is {contracted} "
            f"({expected_fee} {row['currency']})."
        ),
        details={
            "invoice_id": row["invoice_key"],
            "gross_amount": str(gross),
            "listing_fee_amount": str(fee_paid),
            "observed_rate": str(shown),
            "contracted_rate": str(contracted),
            "rate_source": source,
            "schedule_rate": None
            if terms["schedule_rate"] is None
            else str(terms["schedule_rate"]),
            "total_contract_value": None
            if row["total_contract_value"] is None
            else str(row["total_contract_value"]),
            "is_renewal": bool(row["is_renewal"]),
            "is_cppo": terms["is_cppo"],
            "is_private_offer": terms["is_private_offer"],
            "contract_found": row["contract_key"] is not None,
        },
    )


def _contract_terms(row: Any) -> dict[str, Any]:
    """The contracted rate (the contract's own, else the schedule's) and the terms behind it."""
    found = row["contract_key"] is not None
    is_cppo = bool(found and (row["channel"] == "reseller" or row["reseller_account_id"]))
    # No contract on our side means the buyer is on the public offer.
    is_private = bool(row["is_private_offer"]) if found else False
    try:
        schedule: Decimal | None = expected_listing_fee_rate(
            is_private_offer=is_private,
            total_contract_value=row["total_contract_value"],
            is_renewal=bool(row["is_renewal"]),
            is_cppo=is_cppo,
        )
    except FeeScheduleError:  # a private offer without a contract value has no tier
        schedule = None
    own = row["listing_fee_rate"]
    contracted = Decimal(own).normalize() if own is not None else schedule
    return {
        "contracted_rate": contracted,
        "rate_source": "contract" if own is not None else "schedule",
        "schedule_rate": schedule,
        "is_cppo": is_cppo,
        "is_private_offer": is_private,
    }
