"""The listing-fee check: the fee AWS took on each marketplace invoice, against the contract and
against AWS's schedule (`billing.fees.expected_listing_fee_rate`)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from billing.bundles.fetch.money import fetch_fx_rates
from billing.bundles.records import BillingEventRecord, ContractRecord
from billing.fees import FeeScheduleError, expected_listing_fee_rate
from billing.money import quantize
from tools.context import ToolContext, ToolScopeError
from tools.contract_tools import case_contracts, case_products
from tools.money_tools import case_events, invoice_totals
from tools.registry import tool
from tools.results import InvoiceEventTotals, ListingFeeCheck, ListingFeeLine

#: Observed and contracted rates closer than this agree (the rule listing_fee_vs_contract uses the same).
RATE_TOLERANCE = Decimal("0.0005")
#: How far back from a contract's start a USD rate is looked for, to place its value in a fee tier.
FX_LOOKBACK_DAYS = 10


@tool
def check_listing_fee(
    ctx: ToolContext,
    invoice_id: Annotated[str | None, Field(description="Only this marketplace invoice id.")] = None,
) -> ListingFeeCheck:
    """For each marketplace invoice of the case: gross (Σ SELLER_REV_SHARE), listing fee
    (|Σ AWS_REV_SHARE|), the observed rate, the contract's listing-fee rate, and the rate AWS's
    schedule sets for the offer (public SaaS 3%; private offers < $1M 3%, $1M–<$10M 2%, ≥ $10M
    1.5%; renewals 1.5%; CPPO +0.5%), with the expected fee and the difference."""
    events = case_events(ctx)
    totals = invoice_totals(events)
    if invoice_id is not None:
        totals = [t for t in totals if t.invoice_id == invoice_id]
        if not totals:
            raise ToolScopeError(f"marketplace invoice {invoice_id!r} is not in this case's scope")
    by_id = {e.billing_event_id: e for e in events}
    lines = [_line(ctx, t, [by_id[i] for i in t.billing_event_ids]) for t in totals if t.gross or t.listing_fee]
    return ListingFeeCheck(tolerance=RATE_TOLERANCE, lines=lines)


def _line(ctx: ToolContext, totals: InvoiceEventTotals, rows: list[BillingEventRecord]) -> ListingFeeLine:
    fee = abs(totals.listing_fee)
    observed = (fee / totals.gross).quantize(Decimal("0.000001")) if totals.gross else None
    contract = _contract_for(ctx, rows)
    contracted = contract.listing_fee_rate if contract else None
    schedule, basis = _schedule(ctx, contract)
    reference = contracted if contracted is not None else schedule
    expected = quantize(totals.gross * reference, totals.currency) if reference is not None else None
    return ListingFeeLine(
        invoice_id=totals.invoice_id, currency=totals.currency, gross=totals.gross, listing_fee=fee,
        observed_rate=observed, contract_key=contract.contract_key if contract else None,
        contracted_rate=contracted, schedule_rate=schedule, schedule_basis=basis, expected_fee=expected,
        fee_difference=None if expected is None else fee - expected,
        matches_contract=_agrees(observed, contracted), matches_schedule=_agrees(observed, schedule),
        billing_event_ids=totals.billing_event_ids,
    )


def _agrees(observed: Decimal | None, reference: Decimal | None) -> bool | None:
    if observed is None or reference is None:
        return None
    return abs(observed - reference) <= RATE_TOLERANCE


def _contract_for(ctx: ToolContext, rows: list[BillingEventRecord]) -> ContractRecord | None:
    """The marketplace contract an invoice bills: by agreement id, else by product and date."""
    contracts = [c for c in case_contracts(ctx) if c.channel != "direct"]
    agreements = {r.agreement_id for r in rows if r.agreement_id}
    by_agreement = [c for c in contracts if c.agreement_id and c.agreement_id in agreements]
    if by_agreement:
        return by_agreement[0]
    codes = {p.marketplace_product_id: p.product_code for p in case_products(ctx)}
    products = {codes.get(r.product_id or "") for r in rows} - {None}
    day = next((r.invoice_date for r in rows if r.invoice_date), None) or ctx.scope().start
    candidates = [c for c in contracts if (not products or c.product_code in products)
                  and c.start_date <= day and (c.end_date is None or c.end_date >= day)]
    return candidates[0] if len(candidates) == 1 else None


def _schedule(ctx: ToolContext, contract: ContractRecord | None) -> tuple[Decimal | None, str]:
    if contract is None:
        return None, "no single marketplace contract matches this invoice"
    is_cppo = contract.channel == "reseller"
    value, note = _value_in_usd(ctx, contract)
    try:
        rate = expected_listing_fee_rate(is_private_offer=contract.is_private_offer, total_contract_value=value,
                                         is_renewal=contract.is_renewal, is_cppo=is_cppo)
    except FeeScheduleError as exc:
        return None, str(exc)
    if contract.is_renewal:
        kind = "renewal"
    elif contract.is_private_offer or is_cppo:
        kind = f"private offer, contract value {note}"
    else:
        kind = "public offer"
    return rate, f"{kind}{' (CPPO +0.5%)' if is_cppo else ''} → {rate * 100:.2f}% of pre-tax contract value"


def _value_in_usd(ctx: ToolContext, contract: ContractRecord) -> tuple[Decimal | None, str]:
    value = contract.total_contract_value
    if value is None:
        return None, "unknown"
    if contract.currency == "USD":
        return value, f"{value} USD"
    start = contract.start_date
    rates = fetch_fx_rates(ctx.session, [contract.currency], (start - timedelta(days=FX_LOOKBACK_DAYS),
                                                               start + timedelta(days=1)))
    if not rates:
        return value, f"{value} {contract.currency} (no USD rate near {start}; tier taken on the unconverted value)"
    rate = rates[-1]
    usd = quantize(value * rate.usd_per_unit, "USD")
    return usd, f"{value} {contract.currency} = {usd} USD at {rate.usd_per_unit} on {_iso(rate.rate_date)}"


def _iso(day: date) -> str:
    return day.isoformat()
