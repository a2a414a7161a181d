"""Disbursements converted to another currency vs the exchange rate of the day.

DOMAIN.md: AWS disburses in USD, EUR, GBP, AUD or JPY; non-USD offers carry
`disbursement_currency` / `disbursement_amount`. For rows whose disbursement currency differs
from their currency: expected = amount × (USD per unit of the currency) / (USD per unit of
the disbursement currency), both at the latest `fx_rates` row on or before the row's date
(`action_date`, else `invoice_date`). Per payout (its DISBURSED rows, or the payout row
itself when only it carries the converted amount): a difference beyond `fx_tolerance` of the
expected amount is an `fx_difference`, stated in the disbursement currency.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from billing.models import BillingEvent, FxRate
from billing.money import quantize
from billing.reconcile.config import ReconcileSettings, current
from billing.reconcile.findings import Finding
from billing.reconcile.linked import linked_finding, with_contract
from billing.reconcile.partner_events import (
    DISBURSEMENT,
    DISBURSEMENT_FAILURE,
    Event,
    Parent,
    billed_date,
    in_period,
    is_current,
    one_or_none,
    payout_children,
)
from billing.reconcile.sql import id_list, split_ids

RULE = "fx_conversion"
KIND = "fx_difference"


def _usd_per_unit(currency: Any, on: Any) -> Any:
    """USD per unit of `currency` on the latest rate date ≤ `on` (1 for USD itself)."""
    latest = (
        select(FxRate.usd_per_unit)
        .where(FxRate.currency == currency, FxRate.rate_date <= on)
        .order_by(FxRate.rate_date.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest, case((currency == "USD", literal(1)), else_=None))


def _converted() -> Any:
    """Every converted row with its day's rates (a payout row only when no child is converted)."""
    ev, parent, children = Event, Parent, payout_children()
    converted_child = aliased(BillingEvent, name="converted_child")
    child_converted = (
        select(converted_child.id)
        .where(
            converted_child.disbursement_billing_event_id == ev.billing_event_id,
            converted_child.disbursement_amount.is_not(None),
            is_current(converted_child),
            converted_child.transaction_type != DISBURSEMENT_FAILURE,
        )
        .exists()
    )
    on = func.coalesce(ev.action_date, ev.invoice_date)
    # Read the converted amount in the direction of the amount, whatever sign the feed gave it.
    observed = case(
        (ev.amount < 0, -func.abs(ev.disbursement_amount)), else_=func.abs(ev.disbursement_amount)
    )
    return (
        select(
            func.coalesce(ev.disbursement_billing_event_id, ev.billing_event_id).label("payout_id"),
            ev.billing_event_id,
            ev.currency,
            ev.disbursement_currency,
            ev.amount,
            observed.label("observed"),
            on.label("rate_on"),
            _usd_per_unit(ev.currency, on).label("from_rate"),
            _usd_per_unit(ev.disbursement_currency, on).label("to_rate"),
            func.coalesce(children.c.billed_on, billed_date(ev, parent)).label("billed_on"),
            func.coalesce(ev.end_user_account_id, children.c.end_user).label("end_user"),
            func.coalesce(ev.product_id, children.c.product_id).label("product_id"),
            func.coalesce(ev.agreement_id, children.c.agreement_id).label("agreement_id"),
        )
        .outerjoin(parent, parent.billing_event_id == ev.parent_billing_event_id)
        .outerjoin(children, children.c.payout_id == ev.billing_event_id)
        .where(
            is_current(ev),
            ev.disbursement_amount.is_not(None),
            ev.disbursement_currency.is_not(None),
            ev.disbursement_currency != ev.currency,
            ev.transaction_type != DISBURSEMENT_FAILURE,  # a bounced payout converts nothing
            or_(ev.transaction_type != DISBURSEMENT, ~child_converted),
        )
        .subquery("converted")
    )


def _per_payout(period: str) -> Any:
    rows = _converted()
    billed_on = func.min(rows.c.billed_on)
    return (
        select(
            rows.c.payout_id,
            rows.c.currency,
            rows.c.disbursement_currency,
            func.sum(rows.c.amount).label("amount"),
            func.sum(rows.c.amount * rows.c.from_rate / rows.c.to_rate).label("expected"),
            func.sum(rows.c.observed).label("observed"),
            func.sum(
                case((or_(rows.c.from_rate.is_(None), rows.c.to_rate.is_(None)), 1), else_=0)
            ).label("no_rate"),
            func.min(rows.c.rate_on).label("first_rate_on"),
            func.max(rows.c.rate_on).label("last_rate_on"),
            func.min(rows.c.from_rate).label("from_rate"),
            func.min(rows.c.to_rate).label("to_rate"),
            billed_on.label("billed_on"),
            one_or_none(rows.c.end_user).label("end_user"),
            one_or_none(rows.c.product_id).label("product_id"),
            one_or_none(rows.c.agreement_id).label("agreement_id"),
            id_list(rows.c.billing_event_id).label("event_ids"),
        )
        .group_by(rows.c.payout_id, rows.c.currency, rows.c.disbursement_currency)
        .having(in_period(billed_on, period))
        .subquery("per_payout")
    )


def find(session: Session, period: str) -> Iterator[Finding]:
    """Payouts of the billed month whose conversion differs from the day's rate."""
    cfg = current()
    keys = ("payout_id", "currency", "disbursement_currency")
    agg = _per_payout(period)
    # Without a booked rate there is nothing to compare with.
    query = with_contract(agg, keys).where(agg.c.no_rate == 0)
    for row in session.execute(query).mappings():
        finding = _compare(row, period, cfg)
        if finding is not None:
            yield finding


def _compare(row: Any, period: str, cfg: ReconcileSettings) -> Finding | None:
    target = row["disbursement_currency"]
    sign = (
        -1 if Decimal(row["expected"]) < 0 else 1
    )  # payouts are negative in the feed; state them paid to us
    expected = quantize(sign * Decimal(row["expected"]), target)
    observed = quantize(sign * Decimal(row["observed"]), target)
    gap = abs(observed - expected)
    if gap <= cfg.amount_tolerance or gap <= cfg.fx_tolerance * abs(expected):
        return None
    source = Decimal(row["amount"]) * sign
    implied = (observed / source).quantize(Decimal("0.000001")) if source else None
    booked = (Decimal(row["from_rate"]) / Decimal(row["to_rate"])).quantize(Decimal("0.000001"))
    return linked_finding(
        row,
        rule=RULE,
        period=period,
        currency=target,
        refs={"billing_events": split_ids(row["event_ids"], cfg.max_record_refs)},
        kind=KIND,
        key_parts=(row["payout_id"], row["currency"], target),
        expected_amount=expected,
        observed_amount=observed,
        description=(
            f"Payout {row['payout_id']}: {source.normalize():f} {row['currency']} disbursed as "
            f"{observed} {target} (rate {implied}); at the booked rate {booked} of "
            f"{row['last_rate_on']} it is "
            f"{expected} {target}."
        ),
        details={
            "payout_id": row["payout_id"],
            "source_currency": row["currency"],
            "source_amount": format(source.normalize(), "f"),
            "disbursement_currency": target,
            "booked_rate": str(booked),
            "implied_rate": None if implied is None else str(implied),
            "rate_dates": sorted({str(row["first_rate_on"]), str(row["last_rate_on"])}),
            "variance_pct": str((gap / abs(expected) * 100).quantize(Decimal("0.01")))
            if expected
            else None,
        },
    )
