"""Queries for the money: partner billing events and their links, invoices, credits, refunds,
payments and bank receipts, exchange rates.

Billing events are found from the case (the rows it names, and the account's rows billed in
the period) and then followed along the feed's links — `parent_billing_event_id` (a
DISBURSED row to the INVOICED row it settles), `disbursement_billing_event_id` (a row to its
payout) and the invoice id — a few set-based rounds, never one query per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from billing.bundles.fetch.sql import fetch_rows, prepared
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


def _scoped(condition: Any, account_scoped: bool) -> Any:
    # With an account in scope: its own rows, and payout rows (they carry no end user).
    current = and_(BillingEvent.delete_date.is_(None), condition)
    if not account_scoped:
        return current
    return and_(current, or_(BillingEvent.end_user_account_id == bindparam("aws_id"),
                             BillingEvent.transaction_type.in_(PAYOUT_TYPES)))


def _seeds_stmt(account_scoped: bool, by_product: bool) -> Any:
    seeds = [BillingEvent.billing_event_id.in_(bindparam("named", expanding=True)),
             BillingEvent.invoice_id.in_(bindparam("invoices", expanding=True)),
             BillingEvent.buyer_invoice_id.in_(bindparam("invoices", expanding=True))]
    if account_scoped:
        in_period = and_(BillingEvent.end_user_account_id == bindparam("aws_id"),
                         _billed_day() >= bindparam("start"), _billed_day() < bindparam("end"))
        if by_product:
            in_period = and_(in_period, BillingEvent.product_id.in_(bindparam("products", expanding=True)))
        seeds.append(in_period)
    return select(*_EVENT_COLUMNS).where(_scoped(or_(*seeds), account_scoped))


def _links_stmt(account_scoped: bool) -> Any:
    links = or_(BillingEvent.parent_billing_event_id.in_(bindparam("ids", expanding=True)),
                BillingEvent.billing_event_id.in_(bindparam("targets", expanding=True)),
                BillingEvent.invoice_id.in_(bindparam("invoices", expanding=True)),
                BillingEvent.buyer_invoice_id.in_(bindparam("invoices", expanding=True)),
                BillingEvent.disbursement_billing_event_id.in_(bindparam("payouts", expanding=True)))
    return select(*_EVENT_COLUMNS).where(
        _scoped(and_(links, BillingEvent.billing_event_id.not_in(bindparam("found", expanding=True))), account_scoped))


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
    account_scoped = aws_id is not None
    products = sorted(set(marketplace_product_ids))
    params: dict[str, Any] = {"named": sorted({*scope.refs("billing_events"), *event_ids}),
                              "invoices": sorted({*invoice_ids, *scope.refs("invoices")})}
    if account_scoped:
        params.update(aws_id=aws_id, start=scope.start, end=scope.end)
        if products:
            params["products"] = products
    elif not params["named"] and not params["invoices"]:
        return []
    stmt = prepared(("event_seeds", account_scoped, bool(products)),
                    lambda: _seeds_stmt(account_scoped, bool(products)))
    found: dict[str, BillingEventRecord] = {}
    new = _events(session, stmt, params)
    for _ in range(MAX_LINK_ROUNDS):
        for event in new:
            found[event.billing_event_id] = event
        if not new:
            break
        links = prepared(("event_links", account_scoped), lambda: _links_stmt(account_scoped))
        new = [e for e in _events(session, links, _link_params(new, found) | (
            {"aws_id": aws_id} if account_scoped else {})) if e.billing_event_id not in found]
    for event in new:
        found[event.billing_event_id] = event
    return sorted(found.values(), key=_event_order)


def _events(session: Session, stmt: Any, params: dict[str, Any]) -> list[BillingEventRecord]:
    return [BillingEventRecord.from_db(**row._mapping) for row in fetch_rows(session, stmt, **params)]


def _link_params(new: list[BillingEventRecord], found: dict[str, BillingEventRecord]) -> dict[str, Any]:
    targets = {e.parent_billing_event_id for e in new} | {e.disbursement_billing_event_id for e in new}
    invoices = {e.invoice_id for e in new} | {e.buyer_invoice_id for e in new}
    return {
        "ids": sorted(e.billing_event_id for e in new),
        "targets": sorted(t for t in targets if t and t not in found),
        "invoices": sorted(i for i in invoices if i),
        "payouts": sorted(e.billing_event_id for e in new if e.transaction_type in PAYOUT_TYPES),
        "found": sorted(found),
    }


def _event_order(e: BillingEventRecord) -> tuple[Any, ...]:
    day = e.invoice_date or e.action_date or e.usage_period_start_date or date.min
    return (day, e.invoice_id or "", e.transaction_type in PAYOUT_TYPES, e.action != "INVOICED", e.billing_event_id)


def fetch_payout_totals(session: Session, payout_ids: Iterable[str]) -> dict[str, tuple[int, Any]]:
    """Per payout: how many current rows point to it and their summed amount, over every account.

    Only the totals are returned — a payout pays many buyers, whose rows stay private."""
    ids = sorted(set(payout_ids))
    if not ids:
        return {}
    stmt = prepared("payout_totals", lambda: (
        select(BillingEvent.disbursement_billing_event_id, func.count(), func.sum(BillingEvent.amount))
        .where(BillingEvent.delete_date.is_(None),
               BillingEvent.disbursement_billing_event_id.in_(bindparam("ids", expanding=True)),
               BillingEvent.transaction_type.not_in(PAYOUT_TYPES))
        .group_by(BillingEvent.disbursement_billing_event_id)))
    rows = fetch_rows(session, stmt, ids=ids)
    return {pid: (n, total) for pid, n, total in rows}


_INVOICE_FIELDS = [c for c in Invoice.__table__.columns if c.key not in ("id", "account_id", "contract_id")]


def fetch_invoices(session: Session, scope: CaseScope, *, partner_invoice_ids: Iterable[str] = (),
                   invoice_numbers: Iterable[str] = ()) -> list[InvoiceRecord]:
    """The account's invoices for the period, those the exception names, and those of the given
    marketplace invoice ids, with their lines."""
    if scope.account_id is None:
        return []
    stmt = prepared("invoices", lambda: (
        select(*_INVOICE_FIELDS, Account.account_key, Contract.contract_key, InvoiceLine.line_no,
               InvoiceLine.product_code, InvoiceLine.dimension_key, InvoiceLine.description, InvoiceLine.quantity,
               InvoiceLine.unit_price, InvoiceLine.amount.label("line_amount"))
        .join(Account, Account.id == Invoice.account_id)
        .outerjoin(Contract, Contract.id == Invoice.contract_id)
        .outerjoin(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(Invoice.account_id == bindparam("account_id"),
               or_(Invoice.period == bindparam("period"),
                   Invoice.invoice_number.in_(bindparam("numbers", expanding=True)),
                   Invoice.partner_invoice_id.in_(bindparam("partner_ids", expanding=True))))
        .order_by(Invoice.issue_date, Invoice.invoice_number, InvoiceLine.line_no)))
    rows = fetch_rows(session, stmt, account_id=scope.account_id, period=scope.period,
                      numbers=sorted({*invoice_numbers, *scope.refs("invoices")}),
                      partner_ids=sorted(set(partner_invoice_ids)))
    invoices: dict[str, InvoiceRecord] = {}
    for row in rows:
        m = row._mapping
        record = invoices.get(m["invoice_number"])
        if record is None:
            record = invoices[m["invoice_number"]] = InvoiceRecord.model_validate(
                {f.key: m[f.key] for f in _INVOICE_FIELDS} | {
                    "account_key": m["account_key"], "contract_key": m["contract_key"], "lines": []})
        if m["line_no"] is not None:
            record.lines.append(InvoiceLineRecord(
                line_no=m["line_no"], product_code=m["product_code"], dimension_key=m["dimension_key"],
                description=m["description"], quantity=m["quantity"], unit_price=m["unit_price"],
                amount=m["line_amount"]))
    return list(invoices.values())


def _account_ledger(session: Session, scope: CaseScope, model: Any, *, dated: str, linked_by: str, named_by: str,
                    links: Iterable[str]) -> Sequence[Row[Any]]:
    """The account's rows of a ledger table (credit notes, refund requests) a case needs: dated
    in the money window, linked to one of `links` (invoice ids), or named by the exception
    (its `named_by` id among the exception's refs to the table); by date, then id."""
    if scope.account_id is None:
        return []
    table = model.__table__

    def build() -> Any:
        fields = [c for c in table.columns if c.key not in ("id", "account_id")]
        day, named = table.c[dated], table.c[named_by]
        return (
            select(*fields, Account.account_key).join(Account, Account.id == table.c.account_id)
            .where(table.c.account_id == bindparam("account_id"),
                   or_(and_(day >= bindparam("lo"), day < bindparam("hi")),
                       table.c[linked_by].in_(bindparam("links", expanding=True)),
                       named.in_(bindparam("named", expanding=True))))
            .order_by(day, named))

    lo, hi = scope.money_window
    return fetch_rows(session, prepared(table.name, build), account_id=scope.account_id, lo=lo, hi=hi,
                      links=sorted(set(links)), named=sorted(set(scope.refs(table.name))))


def fetch_credit_notes(session: Session, scope: CaseScope, invoice_numbers: Iterable[str]) -> list[CreditNoteRecord]:
    """Credit notes against the given invoices, named by the exception, or issued in the money window."""
    rows = _account_ledger(session, scope, CreditNote, dated="issue_date", linked_by="invoice_number",
                           named_by="credit_note_number", links=invoice_numbers)
    return [CreditNoteRecord.model_validate(dict(row._mapping)) for row in rows]


def fetch_refund_requests(session: Session, scope: CaseScope,
                          partner_invoice_ids: Iterable[str]) -> list[RefundRequestRecord]:
    """Refund requests for the given marketplace invoices, named by the exception, or made in the money window."""
    rows = _account_ledger(session, scope, RefundRequest, dated="requested_date", linked_by="partner_invoice_id",
                           named_by="request_id", links=partner_invoice_ids)
    return [RefundRequestRecord.model_validate(dict(row._mapping)) for row in rows]


_PAYMENT_FIELDS = [c for c in Payment.__table__.columns if c.key not in ("id", "account_id")]


def _payments_stmt(account_scoped: bool) -> Any:
    unowned = Payment.account_id.is_(None)
    if account_scoped:
        unowned = or_(unowned, Payment.account_id == bindparam("account_id"))
    # One flat OR whose every term starts on an index of its own (account, payment id, bank
    # trace id): with the named ids' OR nested in an AND, the query was a scan of the table.
    terms = [and_(Payment.payment_id.in_(bindparam("named", expanding=True)), unowned),
             and_(Payment.bank_trace_id.in_(bindparam("traces", expanding=True)), unowned)]
    if account_scoped:
        in_window = and_(Payment.received_date >= bindparam("lo"), Payment.received_date < bindparam("hi"))
        terms.insert(0, and_(Payment.account_id == bindparam("account_id"),
                             or_(in_window, Payment.invoice_number.in_(bindparam("numbers", expanding=True)))))
    return (select(*_PAYMENT_FIELDS, Account.account_key).outerjoin(Account, Account.id == Payment.account_id)
            .where(or_(*terms)).order_by(Payment.received_date, Payment.payment_id))


def fetch_payments(session: Session, scope: CaseScope, *, invoice_numbers: Iterable[str] = (),
                   bank_trace_ids: Iterable[str] = ()) -> list[PaymentRecord]:
    """Cash for the case: the account's payments in the money window or against its invoices,
    payments the exception names, and bank receipts matching the payouts' bank trace ids.

    Unidentified cash (no account) is included only when the exception names it or its
    bank trace id matches one of the case's payouts."""
    lo, hi = scope.money_window
    account_scoped = scope.account_id is not None
    params: dict[str, Any] = {"named": sorted(set(scope.refs("payments"))), "traces": sorted(set(bank_trace_ids))}
    if account_scoped:
        params.update(account_id=scope.account_id, lo=lo, hi=hi, numbers=sorted(set(invoice_numbers)))
    elif not params["named"] and not params["traces"]:
        return []
    stmt = prepared(("payments", account_scoped), lambda: _payments_stmt(account_scoped))
    return [PaymentRecord.model_validate(dict(row._mapping)) for row in fetch_rows(session, stmt, **params)]


def fetch_fx_rates(session: Session, currencies: Iterable[str], window: tuple[date, date]) -> list[FxRateRecord]:
    """USD rates of the given (non-USD) currencies for the days of `window` (half-open)."""
    codes = sorted(set(currencies) - {"USD"})
    if not codes:
        return []
    stmt = prepared("fx_rates", lambda: (
        select(FxRate.rate_date, FxRate.currency, FxRate.usd_per_unit)
        .where(FxRate.currency.in_(bindparam("codes", expanding=True)), FxRate.rate_date >= bindparam("lo"),
               FxRate.rate_date < bindparam("hi"))
        .order_by(FxRate.currency, FxRate.rate_date)))
    rows = fetch_rows(session, stmt, codes=codes, lo=window[0], hi=window[1])
    return [FxRateRecord(rate_date=d, currency=c, usd_per_unit=r) for d, c, r in rows]
