"""Queries for who and what was agreed: contracts with their rates, products, agreements.

Each function runs a fixed number of queries whatever the number of rows (no N+1) and
returns bundle records in a deterministic order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

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


def fetch_contracts(session: Session, scope: CaseScope, *, product_code: str | None = None,
                    contract_keys: Iterable[str] = ()) -> list[ContractRecord]:
    """The account's contracts in force at any time of the period (± a day), with their rates.

    Narrowed to `product_code` when given; the contracts the exception names are always
    included. Another account's contract is never returned."""
    if scope.account_id is None:
        return []
    lo, hi = scope.usage_window
    in_force = and_(Contract.start_date < hi, or_(Contract.end_date.is_(None), Contract.end_date >= lo))
    if product_code is not None:
        in_force = and_(in_force, Product.product_code == product_code)
    keys = sorted({*scope.refs("contracts"), *contract_keys})
    wanted = or_(in_force, Contract.contract_key.in_(keys)) if keys else in_force
    rows = session.execute(
        select(Contract, Product.product_code, Account.account_key, ContractRate)
        .join(Product, Product.id == Contract.product_id)
        .join(Account, Account.id == Contract.account_id)
        .outerjoin(ContractRate, ContractRate.contract_id == Contract.id)
        .where(Contract.account_id == scope.account_id, wanted)
        .order_by(Contract.start_date, Contract.contract_key, ContractRate.dimension_key)
    ).all()
    records: dict[str, ContractRecord] = {}
    for contract, code, account_key, rate in rows:
        record = records.get(contract.contract_key)
        if record is None:
            record = records[contract.contract_key] = _contract_record(contract, code, account_key)
        if rate is not None:
            record.rates.append(ContractRateRecord(dimension_key=rate.dimension_key, unit_price=rate.unit_price,
                                                   included_quantity=rate.included_quantity))
    return list(records.values())


def _contract_record(c: Contract, product_code: str, account_key: str) -> ContractRecord:
    return ContractRecord(
        contract_key=c.contract_key, account_key=account_key, product_code=product_code,
        channel=c.channel, offer_id=c.offer_id, agreement_id=c.agreement_id, currency=c.currency,
        start_date=c.start_date, end_date=c.end_date, is_private_offer=c.is_private_offer,
        is_renewal=c.is_renewal, listing_fee_rate=c.listing_fee_rate,
        total_contract_value=c.total_contract_value, discount_pct=c.discount_pct,
        commitment_amount=c.commitment_amount, payment_terms_days=c.payment_terms_days,
        reseller_name=c.reseller_name, reseller_account_id=c.reseller_account_id,
        wholesale_discount_pct=c.wholesale_discount_pct, tax_party=c.tax_party, rates=[],  # type: ignore[arg-type]
    )


def fetch_products(session: Session, product_codes: Iterable[str]) -> list[ProductRecord]:
    """The products (with their dimensions) of the given codes."""
    codes = sorted(set(product_codes))
    if not codes:
        return []
    rows = session.execute(
        select(Product, Dimension).outerjoin(Dimension, Dimension.product_id == Product.id)
        .where(Product.product_code.in_(codes)).order_by(Product.product_code, Dimension.key)
    ).all()
    products: dict[str, ProductRecord] = {}
    for product, dimension in rows:
        record = products.get(product.product_code)
        if record is None:
            record = products[product.product_code] = ProductRecord(
                product_code=product.product_code, marketplace_product_id=product.marketplace_product_id,
                title=product.title, dimensions=[])
        if dimension is not None:
            record.dimensions.append(DimensionRecord(key=dimension.key, unit=dimension.unit,
                                                     description=dimension.description))
    return list(products.values())


def fetch_agreements(session: Session, scope: CaseScope, agreement_ids: Iterable[str] = ()) -> list[AgreementRecord]:
    """The account's agreements, those its contracts or the exception name, and the ones they replaced.

    An agreement accepted by another account is never returned, even when named."""
    if scope.account_id is None:
        return []
    own = or_(Agreement.account_id == scope.account_id, Agreement.account_id.is_(None))
    ids = {*agreement_ids, *scope.refs("agreements")}
    found: dict[str, tuple[Agreement, str | None]] = {}
    condition = Agreement.account_id == scope.account_id
    if ids:
        condition = or_(condition, and_(Agreement.agreement_id.in_(sorted(ids)), own))
    for _ in range(MAX_AGREEMENT_CHAIN + 1):
        rows = session.execute(
            select(Agreement, Account.account_key).outerjoin(Account, Account.id == Agreement.account_id)
            .where(condition)
        ).all()
        for agreement, account_key in rows:
            found.setdefault(agreement.agreement_id, (agreement, account_key))
        preceding = {a.preceding_agreement_id for a, _ in found.values() if a.preceding_agreement_id} - set(found)
        if not preceding:
            break
        condition = and_(Agreement.agreement_id.in_(sorted(preceding)), own)
    ordered = sorted(found.values(), key=lambda pair: (pair[0].start_time, pair[0].agreement_id))
    return [_agreement_record(a, key) for a, key in ordered]


def _agreement_record(a: Agreement, account_key: str | None) -> AgreementRecord:
    return AgreementRecord(
        agreement_id=a.agreement_id, offer_id=a.offer_id, account_key=account_key,
        proposer_account_id=a.proposer_account_id, acceptor_account_id=a.acceptor_account_id,
        start_time=a.start_time, end_time=a.end_time, acceptance_time=a.acceptance_time, intent=a.intent,
        preceding_agreement_id=a.preceding_agreement_id, status=a.status, currency_code=a.currency_code,
        estimated_agreement_value=a.estimated_agreement_value,
    )


def contract_in_force(contract: ContractRecord, day: date) -> bool:
    """Whether `contract` is valid on `day`."""
    return contract.start_date <= day and (contract.end_date is None or contract.end_date >= day)
