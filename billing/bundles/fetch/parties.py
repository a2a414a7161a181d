"""Queries for who and what was agreed: contracts with their rates, products, agreements.

Each function runs a fixed number of prepared queries whatever the number of rows (no N+1)
and returns bundle records in a deterministic order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, false, or_, select
from sqlalchemy.orm import Session

from billing.bundles.fetch.sql import fetch_rows, prepared
from billing.bundles.records import (
    AgreementRecord,
    ContractRateRecord,
    ContractRecord,
    DimensionRecord,
    ProductRecord,
)
from billing.bundles.scope import CaseScope
from billing.models import Account, Agreement, Contract, ContractRate, Dimension, Product

#: Agreement chains (REPLACE / AMEND / renewals) are followed back at most this many steps.
MAX_AGREEMENT_CHAIN = 5

_CONTRACT_FIELDS = [c for c in Contract.__table__.columns if c.key not in ("id", "account_id", "product_id")]


def _contracts_stmt(by_product: bool, in_force_only: bool) -> Any:
    in_force = and_(Contract.start_date < bindparam("hi"),
                    or_(Contract.end_date.is_(None), Contract.end_date >= bindparam("lo")))
    if by_product:
        in_force = and_(in_force, Product.product_code == bindparam("product_code"))
    if not in_force_only:
        in_force = false()
    return (
        select(*_CONTRACT_FIELDS, Product.product_code, Account.account_key,
               ContractRate.dimension_key.label("rate_dimension_key"), ContractRate.unit_price,
               ContractRate.included_quantity)
        .join(Product, Product.id == Contract.product_id)
        .join(Account, Account.id == Contract.account_id)
        .outerjoin(ContractRate, ContractRate.contract_id == Contract.id)
        .where(Contract.account_id == bindparam("account_id"),
               or_(in_force, Contract.contract_key.in_(bindparam("keys", expanding=True))))
        .order_by(Contract.start_date, Contract.contract_key, ContractRate.dimension_key)
    )


def fetch_contracts(session: Session, scope: CaseScope, *, product_code: str | None = None,
                    contract_keys: Iterable[str] = (), in_force_only: bool = True) -> list[ContractRecord]:
    """The account's contracts in force at any time of the period (± a day), with their rates.

    Narrowed to `product_code` when given; the contracts the exception names (and
    `contract_keys`) are always included — only they, with ``in_force_only=False``.
    Another account's contract is never returned."""
    if scope.account_id is None:
        return []
    lo, hi = scope.usage_window
    variant = (product_code is not None, in_force_only)
    stmt = prepared(("contracts", *variant), lambda: _contracts_stmt(*variant))
    params: dict[str, Any] = {"account_id": scope.account_id, "lo": lo, "hi": hi,
                              "keys": sorted({*scope.refs("contracts"), *contract_keys})}
    if product_code is not None:
        params["product_code"] = product_code
    records: dict[str, ContractRecord] = {}
    for row in fetch_rows(session, stmt, **params):
        m = row._mapping
        record = records.get(m["contract_key"])
        if record is None:
            record = records[m["contract_key"]] = ContractRecord.model_validate(
                {f.key: m[f.key] for f in _CONTRACT_FIELDS} | {"product_code": m["product_code"],
                                                               "account_key": m["account_key"], "rates": []})
        if m["rate_dimension_key"] is not None:
            record.rates.append(ContractRateRecord(dimension_key=m["rate_dimension_key"], unit_price=m["unit_price"],
                                                   included_quantity=m["included_quantity"]))
    return list(records.values())


def fetch_products(session: Session, product_codes: Iterable[str]) -> list[ProductRecord]:
    """The products (with their dimensions) of the given codes."""
    codes = sorted(set(product_codes))
    if not codes:
        return []
    stmt = prepared("products", lambda: (
        select(Product.product_code, Product.marketplace_product_id, Product.title,
               Dimension.key, Dimension.unit, Dimension.description)
        .outerjoin(Dimension, Dimension.product_id == Product.id)
        .where(Product.product_code.in_(bindparam("codes", expanding=True)))
        .order_by(Product.product_code, Dimension.key)))
    products: dict[str, ProductRecord] = {}
    for code, mp_id, title, key, unit, description in fetch_rows(session, stmt, codes=codes):
        record = products.get(code)
        if record is None:
            record = products[code] = ProductRecord(product_code=code, marketplace_product_id=mp_id, title=title,
                                                    dimensions=[])
        if key is not None:
            record.dimensions.append(DimensionRecord(key=key, unit=unit, description=description))
    return list(products.values())


_AGREEMENT_FIELDS = [c for c in Agreement.__table__.columns if c.key not in ("id", "account_id")]


def _agreements_stmt(first: bool) -> Any:
    own = or_(Agreement.account_id == bindparam("account_id"), Agreement.account_id.is_(None))
    named = and_(Agreement.agreement_id.in_(bindparam("ids", expanding=True)), own)
    condition = or_(Agreement.account_id == bindparam("account_id"), named) if first else named
    return (select(*_AGREEMENT_FIELDS, Account.account_key)
            .outerjoin(Account, Account.id == Agreement.account_id).where(condition))


def fetch_agreements(session: Session, scope: CaseScope, agreement_ids: Iterable[str] = ()) -> list[AgreementRecord]:
    """The account's agreements, those its contracts or the exception name, and the ones they replaced.

    An agreement accepted by another account is never returned, even when named."""
    if scope.account_id is None:
        return []
    found: dict[str, AgreementRecord] = {}
    ids = sorted({*agreement_ids, *scope.refs("agreements")})
    first = True
    for _ in range(MAX_AGREEMENT_CHAIN + 1):
        stmt = prepared(("agreements", first), lambda first=first: _agreements_stmt(first))  # type: ignore[misc]
        for row in fetch_rows(session, stmt, account_id=scope.account_id, ids=ids):
            m = row._mapping
            if m["agreement_id"] not in found:
                found[m["agreement_id"]] = AgreementRecord.model_validate(
                    {f.key: m[f.key] for f in _AGREEMENT_FIELDS} | {"account_key": m["account_key"]})
        ids = sorted({a.preceding_agreement_id for a in found.values() if a.preceding_agreement_id} - set(found))
        if not ids:
            break
        first = False
    return sorted(found.values(), key=lambda a: (a.start_time, a.agreement_id))


def contract_in_force(contract: ContractRecord, day: date) -> bool:
    """Whether `contract` is valid on `day`."""
    return contract.start_date <= day and (contract.end_date is None or contract.end_date >= day)
