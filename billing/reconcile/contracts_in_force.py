"""Which contract governs an account × product in a month, with the ids partners know them by.

Link keys (agreed across the project): usage_records.product_code ↔ products.product_code;
partner feeds carry products.marketplace_product_id and accounts.aws_account_id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Subquery, and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from billing.models import Account, Contract, ContractRate, Product
from billing.reconcile.periods import period_bounds

# Channels whose usage AWS meters and reports (a CPPO is an AWS Marketplace sale via a reseller).
AWS_CHANNELS: tuple[str, ...] = ("aws_marketplace", "reseller")


def contracts_in_force(period: str, channels: Sequence[str] | None = None) -> Subquery:
    """Per account × product, the contract valid during some part of `period` (the latest
    start wins when a renewal starts mid-month), optionally among `channels` only.

    Columns: contract_id, contract_key, account_id, account_key, aws_account_id, product_id,
    product_code, marketplace_product_id, channel, currency, agreement_id, offer_id,
    start_date, end_date."""
    bounds = period_bounds(period)
    rank = func.row_number().over(
        partition_by=[Contract.account_id, Contract.product_id],
        order_by=[Contract.start_date.desc(), Contract.id.desc()],
    )
    conditions = [Contract.start_date <= bounds.last_day,
                  or_(Contract.end_date.is_(None), Contract.end_date >= bounds.first_day)]
    if channels is not None:
        conditions.append(Contract.channel.in_(list(channels)))
    ranked = (
        select(
            Contract.id.label("contract_id"), Contract.contract_key, Contract.account_id,
            Account.account_key, Account.aws_account_id, Contract.product_id, Product.product_code,
            Product.marketplace_product_id, Contract.channel, Contract.currency, Contract.agreement_id,
            Contract.offer_id, Contract.start_date, Contract.end_date, rank.label("contract_rank"),
        )
        .join(Account, Account.id == Contract.account_id)
        .join(Product, Product.id == Contract.product_id)
        .where(*conditions)
        .subquery("ranked_contracts")
    )
    columns = [c for c in ranked.c if c.name != "contract_rank"]
    return select(*columns).where(ranked.c.contract_rank == 1).subquery("contract_in_force")


def is_account_of(aws_account_id: Any) -> Any:
    """Join condition: `Account` is the account with this 12-digit AWS account id (the lowest
    id, should two share it). A plain join on the indexed column, so the planner can drive
    the query from the feed's rows and look accounts up, not the other way round."""
    other = aliased(Account, name="same_aws_account")
    return and_(Account.aws_account_id == aws_account_id,
                ~exists().where(other.aws_account_id == Account.aws_account_id, other.id < Account.id))


def rate_join(contract_id: Any, dimension_key: Any) -> Any:
    """Join condition of a contract's rate for a dimension (outer-join ContractRate with it)."""
    return and_(ContractRate.contract_id == contract_id, ContractRate.dimension_key == dimension_key)
