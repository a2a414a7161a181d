"""Export: everything needed to triage one exception, gathered into a `CaseBundle`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from billing.bundles.fetch.case import exception_record, fetch_history, fetch_messages
from billing.bundles.fetch.money import (
    fetch_billing_events,
    fetch_credit_notes,
    fetch_fx_rates,
    fetch_invoices,
    fetch_payments,
    fetch_refund_requests,
)
from billing.bundles.fetch.parties import fetch_agreements, fetch_contracts, fetch_products
from billing.bundles.fetch.usage import (
    boundary_ranges,
    fetch_metering,
    fetch_partner_usage,
    fetch_usage_days,
    fetch_usage_hours,
    hours_named_in,
)
from billing.bundles.labels import ExpectedLabels
from billing.bundles.records import ContractRecord, ProductRecord
from billing.bundles.schema import SCHEMA_VERSION, CaseBundle, MeteringSection, UsageSection
from billing.bundles.scope import BOUNDARY_HOURS, CaseScope, at_midnight, load_exception, scope_of


def scope_products(scope: CaseScope, contracts: list[ContractRecord]) -> list[str]:
    """The product codes a case is about: the exception's own, else those of the account's contracts."""
    if scope.product_code:
        return [scope.product_code]
    return sorted({c.product_code for c in contracts})


def marketplace_ids(products: list[ProductRecord]) -> list[str]:
    """The marketplace product ids (what partner feeds carry) of the given products."""
    return sorted({p.marketplace_product_id for p in products if p.marketplace_product_id})


def event_product_filter(scope: CaseScope, products: list[ProductRecord]) -> list[str]:
    """Marketplace product ids the case's billing events are narrowed to: the exception's product's,
    or none (every product of the account) when the exception is not about one product."""
    if not scope.product_code:
        return []
    return marketplace_ids([p for p in products if p.product_code == scope.product_code])


def collect_bundle(session: Session, exception_id: int, *, expected: ExpectedLabels | None = None) -> CaseBundle:
    """The case bundle of exception `exception_id`: the exception and every record needed to triage it.

    Raises `ScopeError` when there is no such exception. Reads only."""
    exception, account = load_exception(session, exception_id)
    scope = scope_of(exception, account)
    contracts = fetch_contracts(session, scope, product_code=scope.product_code)
    codes = scope_products(scope, contracts)
    usage, metering = _usage_sections(session, scope, codes)
    products = fetch_products(session, {*codes, *(c.product_code for c in contracts)})
    events = fetch_billing_events(session, scope, marketplace_product_ids=event_product_filter(scope, products))
    partner_invoice_ids = sorted({i for e in events for i in (e.invoice_id, e.buyer_invoice_id) if i})
    invoices = fetch_invoices(session, scope, partner_invoice_ids=partner_invoice_ids)
    # An invoice may bill a contract of another product: the bundle carries it so the invoice can load.
    missing = {i.contract_key for i in invoices if i.contract_key} - {c.contract_key for c in contracts}
    if missing:
        contracts += [c for c in fetch_contracts(session, scope, contract_keys=missing, in_force_only=False)
                      if c.contract_key in missing]
        products = fetch_products(session, {*codes, *(c.product_code for c in contracts)})
    invoice_numbers = [i.invoice_number for i in invoices]
    payments = fetch_payments(session, scope, invoice_numbers=invoice_numbers,
                              bank_trace_ids=[e.bank_trace_id for e in events if e.bank_trace_id])
    currencies = {c.currency for c in contracts} | {e.currency for e in events} | {
        e.disbursement_currency for e in events if e.disbursement_currency} | {i.currency for i in invoices} | {
        p.currency for p in payments}
    lo = scope.usage_window[0]
    return CaseBundle(
        schema_version=SCHEMA_VERSION,
        exception=exception_record(exception, account.account_key if account else None),
        account=scope.account,
        products=products,
        contracts=contracts,
        agreements=fetch_agreements(session, scope, [c.agreement_id for c in contracts if c.agreement_id]),
        usage=usage,
        partner_usage=fetch_partner_usage(session, scope.aws_account_id, marketplace_ids(
            [p for p in products if p.product_code in codes]), scope.usage_window,
            feed_ids=scope.refs("partner_usage")),
        metering=metering,
        billing_events=events,
        invoices=invoices,
        credit_notes=fetch_credit_notes(session, scope, invoice_numbers),
        refund_requests=fetch_refund_requests(session, scope, partner_invoice_ids + [
            i.partner_invoice_id for i in invoices if i.partner_invoice_id]),
        payments=payments,
        fx_rates=fetch_fx_rates(session, currencies, (lo, scope.money_window[1])),
        messages=fetch_messages(session, scope),
        history=[prior for _, prior in fetch_history(session, scope)],
        expected=expected,
    )


def _usage_sections(session: Session, scope: CaseScope, codes: list[str]) -> tuple[UsageSection | None, MeteringSection]:
    if scope.account_id is None or not codes:
        return None, MeteringSection()
    lo, hi = scope.usage_window
    daily = fetch_usage_days(session, scope.account_id, codes, scope.usage_window)
    hourly = fetch_usage_hours(session, scope.account_id, codes, {d.dimension_key for d in daily},
                               ranges=boundary_ranges(scope, BOUNDARY_HOURS), hours=hours_named_in(scope.details, scope))
    groups, results = fetch_metering(session, scope.customer_refs(), codes,
                                     (at_midnight(scope.start), at_midnight(scope.end)))
    usage = UsageSection(window_start=lo, window_end=hi.fromordinal(hi.toordinal() - 1),
                         boundary_hours=BOUNDARY_HOURS, daily=daily, hourly=hourly)
    return usage, MeteringSection(status_counts=[g.count for g in groups], results=results)
