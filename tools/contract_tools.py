"""Tools about what was agreed: contract terms and the partner's agreement state."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from billing.bundles.collect import scope_products
from billing.bundles.fetch.parties import fetch_agreements, fetch_contracts, fetch_products
from billing.bundles.records import AgreementRecord, ContractRecord, ProductRecord
from billing.bundles.scope import at_midnight
from tools.context import ToolContext
from tools.registry import tool
from tools.results import AgreementState, ContractAgreement, ContractTerms


def case_contracts(ctx: ToolContext) -> list[ContractRecord]:
    """The account's contracts in force in the period, narrowed to the exception's product (cached per case)."""
    scope = ctx.scope()
    key = ("contracts", scope.account_id, scope.period, scope.product_code, tuple(sorted(scope.refs("contracts"))))
    return ctx.shared_value(key, lambda: fetch_contracts(ctx.session, scope, product_code=scope.product_code))


def case_products(ctx: ToolContext) -> list[ProductRecord]:
    """The products the case is about, and those of its contracts (cached per case)."""
    contracts = case_contracts(ctx)
    codes = tuple(sorted({*scope_products(ctx.scope(), contracts), *(c.product_code for c in contracts)}))
    return ctx.shared_value(("products", codes), lambda: fetch_products(ctx.session, codes))


def case_agreements(ctx: ToolContext) -> list[AgreementRecord]:
    """The account's agreements, those its contracts name, and their predecessors (cached per case)."""
    scope = ctx.scope()
    ids = tuple(sorted({c.agreement_id for c in case_contracts(ctx) if c.agreement_id} | set(scope.refs("agreements"))))
    return ctx.shared_value(("agreements", scope.account_id, ids), lambda: fetch_agreements(ctx.session, scope, ids))


@tool
def get_contract_terms(
    ctx: ToolContext,
    product_code: Annotated[str | None, Field(description="Only contracts for this product code.")] = None,
) -> ContractTerms:
    """The account's contracts / private offers in force during the period: channel, currency,
    rate per dimension, listing-fee rate, contract value, renewal and private-offer flags,
    reseller (CPPO) wholesale terms, tax party, payment terms, validity; with the products."""
    scope = ctx.scope()
    if product_code is None or product_code == scope.product_code:
        contracts, products = case_contracts(ctx), case_products(ctx)
    else:
        contracts = fetch_contracts(ctx.session, scope, product_code=product_code)
        products = fetch_products(ctx.session, {c.product_code for c in contracts})
    codes = {c.product_code for c in contracts} | ({scope.product_code} if scope.product_code else set())
    return ContractTerms(period=scope.period, contracts=contracts,
                         products=[p for p in products if p.product_code in codes])


@tool
def get_agreement_state(ctx: ToolContext) -> AgreementState:
    """The account's marketplace agreements (status ACTIVE, SUPERSEDED, ROLLED_BACK, CANCELLED,
    EXPIRED; start/end times; the agreement each one replaced) and, per marketplace contract,
    whether its agreement was ACTIVE for the contract's days in the period."""
    scope = ctx.scope()
    agreements = case_agreements(ctx)
    by_id = {a.agreement_id: a for a in agreements}
    successors = {a.preceding_agreement_id: a for a in agreements if a.preceding_agreement_id and a.status == "ACTIVE"}
    start, end = at_midnight(scope.start), at_midnight(scope.end)
    rows = []
    for contract in case_contracts(ctx):
        if contract.channel == "direct":
            continue
        agreement = by_id.get(contract.agreement_id or "")
        # A contract that starts or ends inside the period needs its agreement only for its own
        # days: a buyer who subscribed on the 15th has no entitlement gap on the 1st.
        lo = max(start, at_midnight(contract.start_date))
        hi = min(end, at_midnight(contract.end_date + timedelta(days=1))) if contract.end_date else end
        if lo >= hi:  # not in force in the period at all: judge it against the whole period
            lo, hi = start, end
        successor = successors.get(contract.agreement_id or "")
        covers = agreement is not None and agreement.start_time <= lo and (
            agreement.status == "ACTIVE" and (agreement.end_time is None or agreement.end_time >= hi)
            # A replacement that took over where the old agreement ended, and runs to the end.
            or agreement.status == "SUPERSEDED" and successor is not None
            and successor.start_time <= (agreement.end_time or successor.start_time)
            and (successor.end_time is None or successor.end_time >= hi))
        rows.append(ContractAgreement(contract_key=contract.contract_key, agreement_id=contract.agreement_id,
                                      agreement_status=agreement.status if agreement else None, covers_period=covers,
                                      replaced_by=successor.agreement_id if successor else None))
    return AgreementState(agreements=agreements, contracts=rows)
