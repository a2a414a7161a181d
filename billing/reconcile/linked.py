"""Partner rows linked to our side, and the findings raised about them.

The money-side rules aggregate the marketplace feed per some key (an invoice, a payout, an
account × product), then all need the same three facts about each group before they can say
anything: our account id, our product code, and the contract behind it (its key for the
evidence, its channel for routing). `with_contract` adds them under fixed names, and
`linked_finding` fills a `Finding`'s fields that follow from them, so every rule states the
channel, account and contract of a group the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select

from billing.models import Contract
from billing.reconcile.findings import Finding
from billing.reconcile.partner_events import (
    account_id_for,
    best_contract,
    join_on_keys,
    product_code_for,
)

# A marketplace group whose contract we cannot find still came through the marketplace.
MARKETPLACE = "aws_marketplace"


def with_contract(
    source: Any,
    keys: Sequence[str],
    *columns: Any,
    required: bool = False,
    best: Any | None = None,
) -> Select[Any]:
    """`source` (a subquery with `end_user`, `product_id`, `agreement_id`, `billed_on` and the
    `keys` columns) with `account_id`, `product_code`, `contract_key` and `channel` added,
    ordered by `keys`.

    `columns` are further columns to select (e.g. more of the contract's terms). The contract
    is `best_contract(source, keys)` (pass `best` when the caller already built it); with
    `required` only the groups that have one are kept (inner joins), otherwise they all are."""
    best = best if best is not None else best_contract(source, keys)
    query = select(
        source,
        *columns,
        account_id_for(source.c.end_user).label("account_id"),
        product_code_for(source.c.product_id).label("product_code"),
        Contract.contract_key,
        Contract.channel,
    )
    if required:
        query = query.join(best, join_on_keys(source, best, keys)).join(
            Contract, Contract.id == best.c.contract_id
        )
    else:
        query = query.outerjoin(best, join_on_keys(source, best, keys)).outerjoin(
            Contract, Contract.id == best.c.contract_id
        )
    return query.order_by(*[source.c[k] for k in keys])


def linked_finding(
    row: Any,
    *,
    rule: str,
    period: str,
    currency: str,
    refs: dict[str, list[str]],
    **fields: Any,
) -> Finding:
    """A `Finding` about a row of `with_contract`: the contract's channel (else the
    marketplace's), our account and product code, and the contract added to `refs`.

    `fields` are the rest of the finding (kind, key_parts, amounts, description, details)."""
    if row["contract_key"]:
        refs["contracts"] = [row["contract_key"]]
    return Finding(
        rule=rule,
        period=period,
        channel=row["channel"] or MARKETPLACE,
        account_id=row["account_id"],
        product_code=row["product_code"],
        currency=currency,
        record_refs=refs,
        **fields,
    )
