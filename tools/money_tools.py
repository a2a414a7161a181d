"""Tools about the money: partner billing events, our invoices and credits, payments and payouts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from billing.bundles.collect import event_product_filter
from billing.bundles.fetch.money import (
    PAYOUT_TYPES,
    fetch_billing_events,
    fetch_credit_notes,
    fetch_fx_rates,
    fetch_invoices,
    fetch_payments,
    fetch_payout_totals,
    fetch_refund_requests,
)
from billing.bundles.records import BillingEventRecord, CreditNoteRecord, InvoiceRecord
from tools.context import ToolContext, ToolScopeError
from tools.contract_tools import case_products
from tools.registry import tool
from tools.results import (
    InvoiceBalance,
    InvoiceEventTotals,
    InvoicesAndCredits,
    PartnerBillingEvents,
    PaymentsAndDisbursements,
    PayoutSummary,
)


def case_events(ctx: ToolContext) -> list[BillingEventRecord]:
    """The case's billing events and every row linked to them (cached per case)."""
    scope = ctx.scope()
    products = tuple(event_product_filter(scope, case_products(ctx)))
    key = ("billing_events", scope.account_id, scope.aws_account_id, scope.period, products,
           tuple(sorted(scope.refs("billing_events"))), tuple(sorted(scope.refs("invoices"))))
    return ctx.shared_value(key, lambda: fetch_billing_events(ctx.session, scope, marketplace_product_ids=products))


def partner_invoice_ids(events: list[BillingEventRecord]) -> list[str]:
    """The marketplace invoice ids the events belong to."""
    return sorted({i for e in events for i in (e.invoice_id, e.buyer_invoice_id) if i})


def case_invoices(ctx: ToolContext) -> list[InvoiceRecord]:
    """Our invoices for the period, those the exception names and those of the case's marketplace invoices."""
    scope = ctx.scope()
    partner_ids = tuple(partner_invoice_ids(case_events(ctx)))
    key = ("invoices", scope.account_id, scope.period, partner_ids, tuple(sorted(scope.refs("invoices"))))
    return ctx.shared_value(key, lambda: fetch_invoices(ctx.session, scope, partner_invoice_ids=partner_ids))


def case_credit_notes(ctx: ToolContext) -> list[CreditNoteRecord]:
    """Credit notes against the case's invoices or issued in the money window (cached per case)."""
    scope = ctx.scope()
    numbers = tuple(i.invoice_number for i in case_invoices(ctx))
    key = ("credit_notes", scope.account_id, scope.period, numbers, tuple(sorted(scope.refs("credit_notes"))))
    return ctx.shared_value(key, lambda: fetch_credit_notes(ctx.session, scope, numbers))


def invoice_totals(events: list[BillingEventRecord]) -> list[InvoiceEventTotals]:
    """Per marketplace invoice (the buyer invoice a listing-fee row names, else its own), the events summed by kind."""
    groups: dict[str, list[BillingEventRecord]] = defaultdict(list)
    for e in events:
        key = e.buyer_invoice_id or e.invoice_id
        if key and e.transaction_type not in PAYOUT_TYPES:
            groups[key].append(e)
    return [_invoice_totals(invoice_id, rows) for invoice_id, rows in sorted(groups.items())]


def _invoice_totals(invoice_id: str, rows: list[BillingEventRecord]) -> InvoiceEventTotals:
    def total(pick: Callable[[BillingEventRecord], bool]) -> Decimal:
        return sum((r.amount for r in rows if pick(r)), Decimal(0))

    def invoiced(transaction_type: str) -> Decimal:
        return total(lambda r: r.action == "INVOICED" and r.transaction_type == transaction_type)

    return InvoiceEventTotals(
        invoice_id=invoice_id, currency=rows[0].currency,
        gross=invoiced("SELLER_REV_SHARE"), listing_fee=invoiced("AWS_REV_SHARE"),
        seller_tax=invoiced("SELLER_TAX_SHARE"), aws_tax=invoiced("AWS_TAX_SHARE"),
        refunds=total(lambda r: r.transaction_type.endswith("_REFUND")),
        credits=total(lambda r: r.transaction_type.endswith("_CREDIT")),
        forgiven=total(lambda r: r.action == "FORGIVEN"),
        disbursed=total(lambda r: r.action == "DISBURSED"),
        net_invoiced=total(lambda r: r.action == "INVOICED" and r.balance_impacting),
        billing_event_ids=[r.billing_event_id for r in rows],
    )


def payout_summaries(ctx: ToolContext, events: list[BillingEventRecord]) -> list[PayoutSummary]:
    """Each payout row among `events`, with the count and sum of the rows it pays (over every buyer)."""
    payouts = [e for e in events if e.transaction_type in PAYOUT_TYPES]
    key = ("payouts", tuple(p.billing_event_id for p in payouts))
    return ctx.shared_value(key, lambda: _payout_summaries(ctx, payouts))  # type: ignore[no-any-return]


def _payout_summaries(ctx: ToolContext, payouts: list[BillingEventRecord]) -> list[PayoutSummary]:
    totals = fetch_payout_totals(ctx.session, [p.billing_event_id for p in payouts])
    summaries = []
    for p in payouts:
        count, rows_total = totals.get(p.billing_event_id, (0, Decimal(0)))
        rows_total = rows_total if rows_total is not None else Decimal(0)
        summaries.append(PayoutSummary(
            billing_event_id=p.billing_event_id, transaction_type=p.transaction_type, amount=p.amount,
            currency=p.currency, bank_trace_id=p.bank_trace_id, rows_paid=count, rows_total=rows_total,
            adds_up=count > 0 and p.amount == rows_total))
    return summaries


@tool
def get_partner_billing_events(
    ctx: ToolContext,
    invoice_id: Annotated[str | None, Field(description="Only the rows of this marketplace invoice id.")] = None,
    billing_event_id: Annotated[str | None, Field(description="Start from this billing event id.")] = None,
) -> PartnerBillingEvents:
    """The partner's billing_event rows for the case (current state): INVOICED gross, listing fee,
    tax, refunds, credits, FORGIVEN rows, DISBURSED rows linked to their INVOICED parent by
    parent_billing_event_id and to their payout by disbursement_billing_event_id; per-invoice
    totals by kind; each payout against the sum of the rows it pays; FX rates for rows disbursed
    in another currency."""
    scope = ctx.scope()
    if invoice_id is None and billing_event_id is None:
        events = case_events(ctx)
    else:
        events = fetch_billing_events(ctx.session, scope, invoice_ids=[invoice_id] if invoice_id else [],
                                      event_ids=[billing_event_id] if billing_event_id else [])
        found = {e.billing_event_id for e in events}
        if billing_event_id and billing_event_id not in found:
            raise ToolScopeError(f"billing event {billing_event_id!r} is not in this case's scope")
        if invoice_id and not any(invoice_id in (e.invoice_id, e.buyer_invoice_id) for e in events):
            raise ToolScopeError(f"marketplace invoice {invoice_id!r} is not in this case's scope")
    converted = [e for e in events if e.disbursement_currency and e.disbursement_currency != e.currency]
    days = [d for e in converted for d in (e.invoice_date, e.action_date) if d]
    rates = fetch_fx_rates(ctx.session, {c for e in converted for c in (e.currency, e.disbursement_currency) if c},
                           (min(days), max(days) + timedelta(days=1))) if days else []
    return PartnerBillingEvents(events=events, invoices=invoice_totals(events),
                                payouts=payout_summaries(ctx, events), fx_rates=rates)


@tool
def get_invoices_and_credits(
    ctx: ToolContext,
    invoice_number: Annotated[str | None, Field(description="Only this invoice of ours.")] = None,
) -> InvoicesAndCredits:
    """Our invoices for the period (direct ones and our mirror of marketplace invoices, with their
    lines), the credit notes against them, and refund requests for the marketplace invoices."""
    scope = ctx.scope()
    if invoice_number is None:
        invoices = case_invoices(ctx)
    else:
        invoices = [i for i in fetch_invoices(ctx.session, scope, invoice_numbers=[invoice_number])
                    if i.invoice_number == invoice_number]
        if not invoices:
            raise ToolScopeError(f"invoice {invoice_number!r} is not in this case's scope")
    numbers = [i.invoice_number for i in invoices]
    partner_ids = sorted({i.partner_invoice_id for i in invoices if i.partner_invoice_id} | (
        set(partner_invoice_ids(case_events(ctx))) if invoice_number is None else set()))
    credits = case_credit_notes(ctx) if invoice_number is None else fetch_credit_notes(ctx.session, scope, numbers)
    refunds = fetch_refund_requests(ctx.session, scope, partner_ids)
    if invoice_number is not None:
        credits = [c for c in credits if c.invoice_number == invoice_number]
        refunds = [r for r in refunds if r.partner_invoice_id in partner_ids]
    return InvoicesAndCredits(invoices=invoices, credit_notes=credits, refund_requests=refunds)


@tool
def get_payments_and_disbursements(ctx: ToolContext) -> PaymentsAndDisbursements:
    """Cash for the case: customer payments and bank receipts (with remittance notes), marketplace
    disbursements matched by bank trace id, the payout rows and whether they add up, and how much
    of each of our invoices is paid, credited and outstanding."""
    scope = ctx.scope()
    events = case_events(ctx)
    invoices = case_invoices(ctx)
    payments = fetch_payments(ctx.session, scope, invoice_numbers=[i.invoice_number for i in invoices],
                              bank_trace_ids=[e.bank_trace_id for e in events if e.bank_trace_id])
    credits = case_credit_notes(ctx)
    balances = []
    for invoice in invoices:
        paid = sum((p.amount for p in payments if p.invoice_number == invoice.invoice_number
                    and p.kind != "disbursement"), Decimal(0))
        credited = sum((c.amount for c in credits if c.invoice_number == invoice.invoice_number), Decimal(0))
        balances.append(InvoiceBalance(invoice_number=invoice.invoice_number, currency=invoice.currency,
                                       total=invoice.total, credited=credited, paid=paid,
                                       outstanding=invoice.total - credited - paid, due_date=invoice.due_date))
    return PaymentsAndDisbursements(payments=payments, payouts=payout_summaries(ctx, events),
                                    invoice_balances=balances)
