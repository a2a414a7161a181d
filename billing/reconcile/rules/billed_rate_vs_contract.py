"""Rule `billed_rate_vs_contract`: the rate the partner billed usage at vs the contracted rate.

DOMAIN.md (price_mismatch): the feed's rate differs from the private-offer term, e.g. the
buyer is billed on the public offer. For each `partner_usage` row of the month, the
contract is the account × product `aws_marketplace` contract valid on that `usage_date` (the
latest start wins), and its `contract_rates.unit_price` for the row's dimension. Rows whose
`usage_rate_per_unit_in_pricing_currency` differs by more than `rate_tolerance` are summed
per account × product × dimension × contract × month into one `rate_mismatch`:
expected = Σ quantity × contract rate, observed = Σ quantity × billed rate.

CPPO (reseller) rows are not compared here: the buyer pays the reseller's marked-up price,
which our contract does not hold; `reseller_wholesale` checks what the reseller pays us.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from billing.models import Account, Contract, ContractRate, PartnerUsage, Product
from billing.reconcile.config import current
from billing.reconcile.contracts_in_force import is_account_of
from billing.reconcile.evidence import as_date, exact, text
from billing.reconcile.findings import Finding
from billing.reconcile.periods import period_bounds
from billing.reconcile.sql import id_list, rounded_gap, split_ids

RULE = "billed_rate_vs_contract"
CHANNEL = "aws_marketplace"


def _valid_on(contract: Any, day: Any) -> Any:
    return and_(contract.start_date <= day, or_(contract.end_date.is_(None), contract.end_date >= day))


def find(session: Session, period: str) -> Iterator[Finding]:
    """Per account × product × dimension × contract: partner rows billed at another rate."""
    settings = current()
    bounds = period_bounds(period)
    pu = PartnerUsage
    later = aliased(Contract, name="later")
    # A later-starting contract valid the same day replaces this one (a renewal at new rates).
    superseded = exists().where(
        later.account_id == Contract.account_id, later.product_id == Contract.product_id,
        later.channel == CHANNEL, _valid_on(later, pu.usage_date),
        or_(later.start_date > Contract.start_date, and_(later.start_date == Contract.start_date, later.id > Contract.id)),
    )
    billed_rate, contract_rate = pu.usage_rate_per_unit_in_pricing_currency, ContractRate.unit_price
    query = (
        select(
            Account.id.label("account_id"), pu.end_user_account_id, Product.product_code, pu.dimension_key,
            Contract.contract_key, Contract.currency, pu.pricing_currency, contract_rate.label("contract_rate"),
            func.sum(pu.usage_quantity).label("quantity"),
            func.sum(pu.usage_quantity * billed_rate).label("billed_value"),
            func.min(billed_rate).label("min_rate"), func.max(billed_rate).label("max_rate"),
            func.count().label("rows"), func.min(pu.usage_date).label("first_day"),
            func.max(pu.usage_date).label("last_day"), id_list(pu.id).label("ids"),
        )
        .select_from(pu)
        .join(Account, is_account_of(pu.end_user_account_id))
        .join(Product, Product.marketplace_product_id == pu.product_id)
        .join(Contract, and_(Contract.account_id == Account.id, Contract.product_id == Product.id,
                             Contract.channel == CHANNEL, _valid_on(Contract, pu.usage_date)))
        .join(ContractRate, and_(ContractRate.contract_id == Contract.id,
                                 ContractRate.dimension_key == pu.dimension_key))
        .where(pu.usage_date >= bounds.first_day, pu.usage_date <= bounds.last_day, billed_rate.is_not(None),
               ~superseded, rounded_gap(billed_rate, contract_rate, 10) > settings.rate_tolerance)
        .group_by(Account.id, pu.end_user_account_id, Product.product_code, pu.dimension_key,
                  Contract.contract_key, Contract.currency, pu.pricing_currency, contract_rate)
        .order_by(Account.id, Product.product_code, pu.dimension_key, Contract.contract_key)
    )
    for row in session.execute(query):
        yield _finding(row, period, settings.max_record_refs)


def _finding(row: Any, period: str, limit: int) -> Finding:
    quantity = exact(row.quantity)
    contract_rate = row.contract_rate
    expected, observed = exact(quantity * contract_rate), exact(row.billed_value)
    min_rate, max_rate = row.min_rate, row.max_rate
    return Finding(
        rule=RULE, kind="rate_mismatch", period=period, channel=CHANNEL, account_id=row.account_id,
        key_parts=(row.product_code, row.dimension_key, row.contract_key),
        description=(f"The partner billed {text(quantity)} {row.dimension_key} of {row.product_code} in {period} at "
                     f"{_rates(min_rate, max_rate)} {row.pricing_currency} per unit; contract {row.contract_key} "
                     f"sets {text(contract_rate)} {row.currency}."),
        product_code=row.product_code, dimension_key=row.dimension_key, currency=row.currency,
        expected_amount=expected, observed_amount=observed, expected_quantity=quantity, observed_quantity=quantity,
        record_refs={"partner_usage": split_ids(row.ids, limit), "contracts": [row.contract_key]},
        details={
            "contract_key": row.contract_key, "contracted_rate": text(contract_rate),
            "billed_rate_min": text(min_rate), "billed_rate_max": text(max_rate),
            "pricing_currency": row.pricing_currency, "contract_currency": row.currency,
            "currency_differs": row.pricing_currency != row.currency, "partner_rows": row.rows,
            "first_day": as_date(row.first_day).isoformat(),  # type: ignore[union-attr]
            "last_day": as_date(row.last_day).isoformat(),  # type: ignore[union-attr]
            "aws_account_id": row.end_user_account_id,
        },
    )


def _rates(low: Any, high: Any) -> str:
    return text(low) if low == high else f"{text(low)}–{text(high)}"  # type: ignore[return-value]
