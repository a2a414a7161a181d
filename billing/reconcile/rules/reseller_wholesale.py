"""CPPO: what the reseller was charged (the ISV's wholesale) vs our price less the authorised
discount.

DOMAIN.md: in a Channel Partner Private Offer the ISV authorises a reseller at a wholesale
price or % discount; the feed carries the reseller's cost as rows with `charge_variant` RESALE
and `charge_side` BUYING. Per account × product × currency of a billed month:
observed = Σ BUYING SELLER_REV_SHARE rows; expected = our price for the usage the marketplace
billed (Σ over dimensions of the partner's quantity above the included quantity × our unit
price) × (1 − `wholesale_discount_pct`). Kind `wholesale_price_mismatch`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from billing.models import Contract, ContractRate, PartnerUsage
from billing.money import quantize
from billing.reconcile.config import ReconcileSettings, current
from billing.reconcile.findings import Finding
from billing.reconcile.linked import linked_finding, with_contract
from billing.reconcile.partner_events import (
    INVOICED,
    SELLER_REV_SHARE,
    Event,
    best_contract,
    billed_date,
    in_period,
    is_current,
    join_on_keys,
)
from billing.reconcile.sql import id_list, split_ids

RULE = "reseller_wholesale"
KIND = "wholesale_price_mismatch"
KEYS = ("end_user", "product_id", "currency")


def _buying(period: str) -> Any:
    """Per account × product × currency: the reseller's cost billed for the month."""
    ev = Event
    billed_on = func.min(billed_date(ev))
    return (
        select(
            ev.end_user_account_id.label("end_user"),
            ev.product_id,
            ev.currency,
            func.min(ev.agreement_id).label("agreement_id"),
            billed_on.label("billed_on"),
            func.sum(ev.amount).label("wholesale"),
            func.min(ev.broker_id).label("broker_id"),
            id_list(ev.billing_event_id).label("event_ids"),
        )
        .where(
            is_current(ev),
            ev.action == INVOICED,
            ev.transaction_type == SELLER_REV_SHARE,
            ev.charge_variant == "RESALE",
            ev.charge_side == "BUYING",
            in_period(billed_date(ev), period),
        )
        .group_by(ev.end_user_account_id, ev.product_id, ev.currency)
        .subquery("buying")
    )


def _our_price(buying: Any, best: Any, period: str) -> Any:
    """Per group: our list price for the partner's billed quantities, by contracted unit price."""
    usage = (
        select(
            PartnerUsage.end_user_account_id,
            PartnerUsage.product_id,
            PartnerUsage.dimension_key,
            func.sum(PartnerUsage.usage_quantity).label("quantity"),
        )
        .where(in_period(PartnerUsage.usage_date, period))
        .group_by(
            PartnerUsage.end_user_account_id, PartnerUsage.product_id, PartnerUsage.dimension_key
        )
        .subquery("billed_usage")
    )
    billable = case(
        (
            usage.c.quantity > ContractRate.included_quantity,
            usage.c.quantity - ContractRate.included_quantity,
        ),
        else_=0,
    )
    return (
        select(
            *[buying.c[k] for k in KEYS],
            func.sum(billable * ContractRate.unit_price).label("list_price"),
            func.sum(usage.c.quantity).label("quantity"),
            func.count(usage.c.dimension_key).label("lines"),
            id_list(usage.c.dimension_key).label("dimensions"),
        )
        .select_from(buying)
        .join(best, join_on_keys(buying, best, KEYS))
        .join(
            usage,
            and_(
                usage.c.end_user_account_id == buying.c.end_user,
                usage.c.product_id == buying.c.product_id,
            ),
        )
        .join(
            ContractRate,
            and_(
                ContractRate.contract_id == best.c.contract_id,
                ContractRate.dimension_key == usage.c.dimension_key,
            ),
        )
        .group_by(*[buying.c[k] for k in KEYS])
        .subquery("our_price")
    )


def find(session: Session, period: str) -> Iterator[Finding]:
    """Reseller costs of `period` that differ from the authorised wholesale price."""
    cfg = current()
    buying = _buying(period)
    best = best_contract(buying, KEYS)
    price = _our_price(buying, best, period)
    query = (
        with_contract(
            buying,
            KEYS,
            price.c.list_price,
            price.c.quantity,
            price.c.lines,
            price.c.dimensions,
            Contract.wholesale_discount_pct,
            Contract.reseller_name,
            Contract.reseller_account_id,
            required=True,
            best=best,
        )
        .outerjoin(price, join_on_keys(buying, price, KEYS))
        .where(
            Contract.wholesale_discount_pct.is_not(None)
        )  # no authorised discount: nothing to hold it to
    )
    for row in session.execute(query).mappings():
        finding = _compare(row, period, cfg)
        if finding is not None:
            yield finding


def _compare(row: Any, period: str, cfg: ReconcileSettings) -> Finding | None:
    currency = row["currency"]
    discount = Decimal(row["wholesale_discount_pct"]).normalize()
    list_price = Decimal(row["list_price"] or 0)
    expected = quantize(list_price * (1 - discount), currency)
    observed = quantize(Decimal(row["wholesale"]), currency)
    # The marketplace prices (and rounds) each dimension on its own line: a rounding per line.
    if abs(observed - expected) <= cfg.amount_tolerance * max(1, row["lines"] or 0):
        return None
    implied = (1 - observed / list_price).quantize(Decimal("0.0001")) if list_price else None
    reseller = row["reseller_name"] or row["reseller_account_id"] or row["broker_id"] or "?"
    return linked_finding(
        row,
        rule=RULE,
        period=period,
        currency=currency,
        refs={"billing_events": split_ids(row["event_ids"], cfg.max_record_refs)},
        kind=KIND,
        # The AWS account id keeps buyers apart that are not (yet) our accounts.
        key_parts=(
            row["end_user"] or "-",
            row["product_code"] or row["product_id"] or "-",
            currency,
        ),
        expected_amount=expected,
        observed_amount=observed,
        description=(
            f"Reseller {reseller} was charged {observed} {currency} for {period}; "
            f"our price {quantize(list_price, currency)} less the "
            f"authorised {(discount * 100).normalize():f} % is {expected} {currency}."
        ),
        details={
            "list_price": str(quantize(list_price, currency)),
            "authorised_discount_pct": str(discount),
            "implied_discount_pct": None if implied is None else str(implied),
            "billed_quantity": None
            if row["quantity"] is None
            else format(Decimal(row["quantity"]).normalize(), "f"),
            "dimensions": split_ids(row["dimensions"], cfg.max_record_refs),
            "reseller_name": row["reseller_name"],
            "reseller_account_id": row["reseller_account_id"],
            "broker_id": row["broker_id"],
        },
    )
