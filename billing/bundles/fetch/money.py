"""Queries for the money: partner billing events and their links, invoices, credits, refunds,
payments and bank receipts, exchange rates.

Billing events are found from the case (the rows it names, and the account's rows billed in
the period) and then followed along the feed's links — `parent_billing_event_id` (a
DISBURSED row to the INVOICED row it settles), `disbursement_billing_event_id` (a row to its
payout) and the invoice id — a few set-based rounds, never one query per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from billing.bundles.records import (
    BillingEventRecord,
    CreditNoteRecord,
    FxRateRecord,
    InvoiceLineRecord,
    InvoiceRecord,
    PaymentRecord,
    RefundRequestRecord,
)
from billing.bundles.scope import CaseScope
from billing.models import (
    Account,
    BillingEvent,
    Contract,
    CreditNote,
    FxRate,
    Invoice,
    InvoiceLine,
    Payment,
    RefundRequest,
)

PAYOUT_TYPES = ("DISBURSEMENT", "DISBURSEMENT_FAILURE")
#: Links are followed at most this many rounds (row → parent → payout is two).
MAX_LINK_ROUNDS = 4

_EVENT_COLUMNS = [c for c in BillingEvent.__table__.columns
                  if c.key not in ("id", "ingest_batch_id", "delete_date")]


def _billed_day() -> Any:
    # The month a row's money belongs to: its usage period, else its invoice date, else its action date.
    return func.coalesce(BillingEvent.usage_period_start_date, BillingEvent.invoice_date, BillingEvent.action_date)


def _events(session: Session, condition: Any) -> list[BillingEventRecord]:
    rows = session.execute(
        select(*_EVENT_COLUMNS).where(BillingEvent.delete_date.is_(None), condition)
    ).mappings().all()
    return [BillingEventRecord.model_validate(dict(row)) for row in rows]


def fetch_billing_events(session: Session, scope: CaseScope, *, marketplace_product_ids: Iterable[str] = (),
                         invoice_ids: Iterable[str] = (), event_ids: Iterable[str] = ()) -> list[BillingEventRecord]:
    """The case's billing events (current state) and every row linked to them.

    Seeds: the rows the exception names, rows of the given invoice ids, and the account's
    rows whose money belongs to the period (narrowed to the products given, if any). Then
    parents, children (DISBURSED rows, refunds), payouts and same-invoice rows are added
    until nothing new appears. With an account in scope, only that account's rows and the
    payout rows paying them are returned; another account's row is never returned."""
    aws_id = scope.aws_account_id
    if scope.account_id is not None and not aws_id:
        return []  # an account AWS does not know has no AWS billing events
    own = BillingEvent.end_user_account_id == aws_id if aws_id else None
    named = sorted({*scope.refs("billing_events"), *event_ids})
    invoices = sorted({*invoice_ids, *scope.refs("invoices")})
    seeds: list[Any] = []
    if named:
        seeds.append(BillingEvent.billing_event_id.in_(named))
    if invoices:
        seeds.append(or_(BillingEvent.invoice_id.in_(invoices), BillingEvent.buyer_invoice_id.in_(invoices)))
    if own is not None:
        in_period = and_(_billed_day() >= scope.start, _billed_day() < scope.end)
        products = sorted(set(marketplace_product_ids))
        if products:
            in_period = and_(in_period, BillingEvent.product_id.in_(products))
        seeds.append(in_period)
    if not seeds:
        return []
    found: dict[str, BillingEventRecord] = {}
    condition: Any = or_(*seeds)
    for _ in range(MAX_LINK_ROUNDS + 1):
        new = [e for e in _events(session, _scoped(condition, own)) if e.billing_event_id not in found]
        if not new:
            break
        for event in new:
            found[event.billing_event_id] = event
        condition = _links_of(new, found)
        if condition is None:
            break
    return sorted(found.values(), key=_event_order)


def _scoped(condition: Any, own: Any) -> Any:
    # With an account in scope: its own rows, and payout rows (they carry no end user).
    if own is None:
        return condition
    return and_(condition, or_(own, BillingEvent.transaction_type.in_(PAYOUT_TYPES)))


def _links_of(new: list[BillingEventRecord], found: dict[str, BillingEventRecord]) -> Any:
    ids = [e.billing_event_id for e in new]
    targets = {e.parent_billing_event_id for e in new} | {e.disbursement_billing_event_id for e in new}
    targets = {t for t in targets if t and t not in found}
    invoice_ids = {e.invoice_id for e in new if e.invoice_id} | {e.buyer_invoice_id for e in new if e.buyer_invoice_id}
    payouts = [e.billing_event_id for e in new if e.transaction_type in PAYOUT_TYPES]
    links: list[Any] = [BillingEvent.parent_billing_event_id.in_(ids)]
    if targets:
        links.append(BillingEvent.billing_event_id.in_(sorted(targets)))
    if invoice_ids:
        links.append(or_(BillingEvent.invoice_id.in_(sorted(invoice_ids)),
                         BillingEvent.buyer_invoice_id.in_(sorted(invoice_ids))))
    if payouts:
        links.append(BillingEvent.disbursement_billing_event_id.in_(payouts))
    return and_(or_(*links), BillingEvent.billing_event_id.not_in(sorted(found)))


def _event_order(e: BillingEventRecord) -> tuple[Any, ...]:
    day = e.invoice_date or e.action_date or e.usage_period_start_date or date.min
    return (day, e.invoice_id or "", e.transaction_type in PAYOUT_TYPES, e.action != "INVOICED", e.billing_event_id)


def fetch_payout_totals(session: Session, payout_ids: Iterable[str]) -> dict[str, tuple[int, Any]]:
    """Per payout: how many current rows point to it and their summed amount, over every account.

    Only the totals are returned — a payout pays many buyers, whose rows stay private."""
    ids = sorted(set(payout_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(BillingEvent.disbursement_billing_event_id, func.count(), func.sum(BillingEvent.amount))
        .where(BillingEvent.delete_date.is_(None), BillingEvent.disbursement_billing_event_id.in_(ids),
               BillingEvent.transaction_type.not_in(PAYOUT_TYPES))
        .group_by(BillingEvent.disbursement_billing_event_id)
    ).all()
    return {pid: (n, total) for pid, n, total in rows}


def fetch_invoices(session: Session, scope: CaseScope, *, partner_invoice_ids: Iterable[str] = (),
                   invoice_numbers: Iterable[str] = (), product_code: str | None = None) -> list[InvoiceRecord]:
    """The account's invoices for the period, those the exception names, and those of the given
    marketplace invoice ids, with their lines."""
    if scope.account_id is None:
        return []
    numbers = sorted({*invoice_numbers, *scope.refs("invoices")})
    partner_ids = sorted(set(partner_invoice_ids))
    wanted: list[Any] = [Invoice.period == scope.period]
    if numbers:
        wanted.append(Invoice.invoice_number.in_(numbers))
    if partner_ids:
        wanted.append(Invoice.partner_invoice_id.in_(partner_ids))
    rows = session.execute(
        select(Invoice, Account.account_key, Contract.contract_key, InvoiceLine)
        .join(Account, Account.id == Invoice.account_id)
        .outerjoin(Contract, Contract.id == Invoice.contract_id)
        .outerjoin(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(Invoice.account_id == scope.account_id, or_(*wanted))
        .order_by(Invoice.issue_date, Invoice.invoice_number, InvoiceLine.line_no)
    ).all()
    invoices: dict[str, InvoiceRecord] = {}
    for inv, account_key, contract_key, line in rows:
        record = invoices.get(inv.invoice_number)
        if record is None:
            record = invoices[inv.invoice_number] = InvoiceRecord(
                invoice_number=inv.invoice_number, account_key=account_key, contract_key=contract_key,
                channel=inv.channel, period=inv.period, currency=inv.currency, issue_date=inv.issue_date,  # type: ignore[arg-type]
                due_date=inv.due_date, subtotal=inv.subtotal, tax=inv.tax, total=inv.total,
                status=inv.status, partner_invoice_id=inv.partner_invoice_id, lines=[])  # type: ignore[arg-type]
        if line is not None:
            record.lines.append(InvoiceLineRecord(
                line_no=line.line_no, product_code=line.product_code, dimension_key=line.dimension_key,
                description=line.description, quantity=line.quantity, unit_price=line.unit_price, amount=line.amount))
    return list(invoices.values())


def fetch_credit_notes(session: Session, scope: CaseScope, invoice_numbers: Iterable[str]) -> list[CreditNoteRecord]:
    """Credit notes against the given invoices, named by the exception, or issued in the money window."""
    if scope.account_id is None:
        return []
    lo, hi = scope.money_window
    wanted: list[Any] = [and_(CreditNote.issue_date >= lo, CreditNote.issue_date < hi)]
    numbers = sorted(set(invoice_numbers))
    if numbers:
        wanted.append(CreditNote.invoice_number.in_(numbers))
    if named := scope.refs("credit_notes"):
        wanted.append(CreditNote.credit_note_number.in_(sorted(named)))
    rows = session.execute(
        select(CreditNote, Account.account_key).join(Account, Account.id == CreditNote.account_id)
        .where(CreditNote.account_id == scope.account_id, or_(*wanted))
        .order_by(CreditNote.issue_date, CreditNote.credit_note_number)
    ).all()
    return [CreditNoteRecord(credit_note_number=c.credit_note_number, account_key=key, invoice_number=c.invoice_number,
                             currency=c.currency, amount=c.amount, issue_date=c.issue_date, reason=c.reason)
            for c, key in rows]


def fetch_refund_requests(session: Session, scope: CaseScope,
                          partner_invoice_ids: Iterable[str]) -> list[RefundRequestRecord]:
    """Refund requests for the given marketplace invoices, named by the exception, or made in the money window."""
    if scope.account_id is None:
        return []
    lo, hi = scope.money_window
    wanted: list[Any] = [and_(RefundRequest.requested_date >= lo, RefundRequest.requested_date < hi)]
    ids = sorted(set(partner_invoice_ids))
    if ids:
        wanted.append(RefundRequest.partner_invoice_id.in_(ids))
    if named := scope.refs("refund_requests"):
        wanted.append(RefundRequest.request_id.in_(sorted(named)))
    rows = session.execute(
        select(RefundRequest, Account.account_key).join(Account, Account.id == RefundRequest.account_id)
        .where(RefundRequest.account_id == scope.account_id, or_(*wanted))
        .order_by(RefundRequest.requested_date, RefundRequest.request_id)
    ).all()
    return [RefundRequestRecord(request_id=r.request_id, account_key=key, channel=r.channel,  # type: ignore[arg-type]
                                partner_invoice_id=r.partner_invoice_id, currency=r.currency, amount=r.amount,
                                status=r.status, requested_date=r.requested_date,  # type: ignore[arg-type]
                                approved_date=r.approved_date, reason=r.reason)
            for r, key in rows]


def fetch_payments(session: Session, scope: CaseScope, *, invoice_numbers: Iterable[str] = (),
                   bank_trace_ids: Iterable[str] = ()) -> list[PaymentRecord]:
    """Cash for the case: the account's payments in the money window or against its invoices,
    payments the exception names, and bank receipts matching the payouts' bank trace ids.

    Unidentified cash (no account) is included only when the exception names it or its
    bank trace id matches one of the case's payouts."""
    lo, hi = scope.money_window
    named = sorted(set(scope.refs("payments")))
    traces = sorted(set(bank_trace_ids))
    numbers = sorted(set(invoice_numbers))
    wanted: list[Any] = []
    if scope.account_id is not None:
        own: list[Any] = [and_(Payment.received_date >= lo, Payment.received_date < hi)]
        if numbers:
            own.append(Payment.invoice_number.in_(numbers))
        wanted.append(and_(Payment.account_id == scope.account_id, or_(*own)))
    # Named payments and bank receipts of the case's payouts: the account's own, or cash nobody owns yet.
    unowned = Payment.account_id.is_(None) if scope.account_id is None else or_(
        Payment.account_id.is_(None), Payment.account_id == scope.account_id)
    if named:
        wanted.append(and_(Payment.payment_id.in_(named), unowned))
    if traces:
        wanted.append(and_(Payment.bank_trace_id.in_(traces), unowned))
    if not wanted:
        return []
    rows = session.execute(
        select(Payment, Account.account_key).outerjoin(Account, Account.id == Payment.account_id)
        .where(or_(*wanted)).order_by(Payment.received_date, Payment.payment_id)
    ).all()
    return [PaymentRecord(payment_id=p.payment_id, account_key=key, channel=p.channel, kind=p.kind,  # type: ignore[arg-type]
                          currency=p.currency, amount=p.amount, received_date=p.received_date,
                          invoice_number=p.invoice_number, bank_trace_id=p.bank_trace_id, payer=p.payer,
                          remittance_note=p.remittance_note)
            for p, key in rows]


def fetch_fx_rates(session: Session, currencies: Iterable[str], window: tuple[date, date]) -> list[FxRateRecord]:
    """USD rates of the given (non-USD) currencies for the days of `window` (half-open)."""
    codes = sorted(set(currencies) - {"USD"})
    if not codes:
        return []
    rows = session.execute(
        select(FxRate.rate_date, FxRate.currency, FxRate.usd_per_unit)
        .where(FxRate.currency.in_(codes), FxRate.rate_date >= window[0], FxRate.rate_date < window[1])
        .order_by(FxRate.currency, FxRate.rate_date)
    ).all()
    return [FxRateRecord(rate_date=d, currency=c, usd_per_unit=r) for d, c, r in rows]
