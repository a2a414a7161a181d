"""Charges the marketplace forgave: billing events with action FORGIVEN, per buyer invoice.

AWS: FORGIVEN — the buyer was invoiced for the amount and AWS reverted the charge, so it will
never be disbursed. Per invoice: expected = the net we invoiced, observed = what is left once
the forgiven rows are taken off (read in their type's direction, whatever sign the row has).
Kind `charge_forgiven`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from billing.money import quantize
from billing.reconcile.config import current
from billing.reconcile.findings import Finding
from billing.reconcile.linked import linked_finding, with_contract
from billing.reconcile.partner_events import (
    AWS_TAX_SHARE,
    FORGIVEN,
    INVOICED,
    PAYOUT_TYPES,
    SELLER_REV_SHARE,
    Event,
    Parent,
    adjusted_invoice_key,
    billed_date,
    in_period,
    inherited_parties,
    invoice_key,
    is_current,
    join_on_keys,
    signed_amount,
)
from billing.reconcile.sql import id_list, split_ids

RULE = "forgiven_charges"
KIND = "charge_forgiven"


def _forgiven(period: str) -> Any:
    ev, parent = Event, Parent
    key = adjusted_invoice_key(ev, parent)
    billed_on = func.min(billed_date(ev, parent))
    return (
        select(
            key.label("invoice_key"),
            ev.currency,
            *inherited_parties(ev, parent),
            billed_on.label("billed_on"),
            func.sum(signed_amount(ev)).label("forgiven"),
            func.sum(
                case((ev.transaction_type == SELLER_REV_SHARE, signed_amount(ev)), else_=0)
            ).label("forgiven_gross"),
            func.max(ev.action_date).label("forgiven_on"),
            id_list(ev.billing_event_id).label("event_ids"),
            id_list(parent.billing_event_id).label("parent_ids"),
        )
        .outerjoin(parent, parent.billing_event_id == ev.parent_billing_event_id)
        .where(
            is_current(ev), ev.action == FORGIVEN, ~ev.transaction_type.startswith(AWS_TAX_SHARE)
        )
        .group_by(key, ev.currency)
        .having(in_period(billed_on, period))
        .subquery("forgiven")
    )


def _invoiced() -> Any:
    ev = Event
    return (
        select(
            invoice_key(ev).label("invoice_key"), ev.currency, func.sum(ev.amount).label("invoiced")
        )
        .where(
            is_current(ev),
            ev.action == INVOICED,
            ev.balance_impacting.is_(True),
            ev.transaction_type.not_in([*PAYOUT_TYPES, AWS_TAX_SHARE]),
        )
        .group_by(invoice_key(ev), ev.currency)
        .subquery("invoiced")
    )


def find(session: Session, period: str) -> Iterator[Finding]:
    """One `charge_forgiven` per buyer invoice of `period` with FORGIVEN rows."""
    cfg = current()
    forgiven, invoiced = _forgiven(period), _invoiced()
    keys = ("invoice_key", "currency")
    query = with_contract(forgiven, keys, invoiced.c.invoiced).outerjoin(
        invoiced, join_on_keys(forgiven, invoiced, keys)
    )
    for row in session.execute(query).mappings():
        currency = row["currency"]
        lost = quantize(Decimal(row["forgiven"]), currency)
        if abs(lost) <= cfg.amount_tolerance:
            continue
        billed = quantize(Decimal(row["invoiced"] if row["invoiced"] is not None else 0), currency)
        expected = max(
            billed, lost
        )  # forgiven rows with no INVOICED row left in the feed: the forgiven amount
        yield linked_finding(
            row,
            rule=RULE,
            period=period,
            currency=currency,
            refs={"billing_events": split_ids(row["event_ids"], cfg.max_record_refs)},
            kind=KIND,
            key_parts=(row["invoice_key"], currency),
            expected_amount=expected,
            observed_amount=expected - lost,
            description=(
                f"The marketplace forgave {lost} {currency} of invoice {row['invoice_key']} "
                f"(net invoiced {billed} {currency})."
            ),
            details={
                "invoice_id": row["invoice_key"],
                "forgiven_net": str(lost),
                "forgiven_gross": str(quantize(Decimal(row["forgiven_gross"]), currency)),
                "invoiced_net": str(billed),
                "forgiven_on": None if row["forgiven_on"] is None else str(row["forgiven_on"]),
                "parent_billing_event_ids": split_ids(row["parent_ids"], cfg.max_record_refs),
            },
        )
