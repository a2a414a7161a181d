"""Factory functions for the money-side rule tests (cash, refunds, credits, FX) and a rule runner.

They complement `factories.py` (accounts, products, contracts, billing events, invoices):
same habits — add, flush, never commit; money as `Decimal` from strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import ModuleType

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from billing.db import transaction
from billing.models import (
    Account,
    BillingEvent,
    CreditNote,
    Discrepancy,
    FxRate,
    Payment,
    Product,
    RefundRequest,
)
from billing.reconcile.config import ReconcileSettings, using
from billing.reconcile.findings import ApplyStats, apply_findings

from .factories import add_billing_event, dec, make_account, make_contract, make_product

# Tests run as if on this date unless they say otherwise: October 2026 is long due.
AS_OF = date(2027, 1, 15)


def add_payment(
    session: Session,
    account: Account | None,
    *,
    payment_id: str,
    amount: str,
    kind: str = "customer_payment",
    channel: str = "direct",
    currency: str = "USD",
    received_date: date = date(2026, 11, 20),
    invoice_number: str | None = None,
    bank_trace_id: str | None = None,
    payer: str | None = None,
    remittance_note: str | None = None,
) -> Payment:
    """Cash in: a customer payment, a bank receipt or a marketplace disbursement."""
    payment = Payment(
        payment_id=payment_id,
        account_id=account.id if account else None,
        channel=channel,
        kind=kind,
        currency=currency,
        amount=dec(amount),
        received_date=received_date,
        invoice_number=invoice_number,
        bank_trace_id=bank_trace_id,
        payer=payer,
        remittance_note=remittance_note,
    )
    session.add(payment)
    session.flush()
    return payment


def add_refund_request(
    session: Session,
    account: Account,
    *,
    request_id: str,
    amount: str,
    partner_invoice_id: str | None = "inv-aws-0001",
    status: str = "approved",
    channel: str = "aws_marketplace",
    currency: str = "USD",
    requested_date: date = date(2026, 11, 10),
    approved_date: date | None = date(2026, 11, 12),
    reason: str | None = "metering error",
) -> RefundRequest:
    """A refund we requested / approved through the marketplace refund form."""
    request = RefundRequest(
        request_id=request_id,
        account_id=account.id,
        channel=channel,
        partner_invoice_id=partner_invoice_id,
        currency=currency,
        amount=dec(amount),
        status=status,
        requested_date=requested_date,
        approved_date=approved_date if status == "approved" else None,
        reason=reason,
    )
    session.add(request)
    session.flush()
    return request


def add_credit_note(
    session: Session,
    account: Account,
    *,
    credit_note_number: str,
    amount: str,
    invoice_number: str | None,
    currency: str = "USD",
    issue_date: date = date(2026, 11, 15),
    reason: str | None = "service credit",
) -> CreditNote:
    """A credit note we issued against one of our invoices."""
    note = CreditNote(
        credit_note_number=credit_note_number,
        account_id=account.id,
        invoice_number=invoice_number,
        currency=currency,
        amount=dec(amount),
        issue_date=issue_date,
        reason=reason,
    )
    session.add(note)
    session.flush()
    return note


def add_fx_rate(session: Session, currency: str, usd_per_unit: str, rate_date: date) -> FxRate:
    """What one unit of `currency` is worth in USD on `rate_date`."""
    rate = FxRate(rate_date=rate_date, currency=currency, usd_per_unit=dec(usd_per_unit))
    session.add(rate)
    session.flush()
    return rate


@dataclass
class RuleRun:
    """One run of one rule: what changed, and the rule's exceptions afterwards."""

    stats: ApplyStats
    exceptions: list[Discrepancy]

    @property
    def open(self) -> list[Discrepancy]:
        return [e for e in self.exceptions if e.status != "closed"]

    def only(self) -> Discrepancy:
        """The single open exception (the test fails if there is not exactly one)."""
        found = self.open
        assert len(found) == 1, [(e.kind, e.natural_key, e.description) for e in found]
        return found[0]


def october_invoice(session: Session) -> tuple[Account, Product]:
    """Acme, its marketplace contract and October's invoice inv-aws-0001 on the feed: 100.00
    gross (`be-gross`) and a 3 % listing fee (`be-fee`, -3.00)."""
    account, product = make_account(session), make_product(session)
    make_contract(session, account, product)
    add_billing_event(session, account, product, billing_event_id="be-gross", amount="100.00")
    add_billing_event(
        session,
        account,
        product,
        billing_event_id="be-fee",
        amount="-3.00",
        transaction_type="AWS_REV_SHARE",
    )
    return account, product


def the_account_and_product(session: Session) -> tuple[Account, Product]:
    """The one account and the one product a test stored."""
    return session.scalars(select(Account)).one(), session.scalars(select(Product)).one()


def add_payout(
    session: Session, *, amount: str, paid_on: date | None, **columns: object
) -> BillingEvent:
    """The marketplace payout `be-payout` (DISBURSED / DISBURSEMENT) paid on `paid_on`: no
    account, product, invoice, due date or usage period of its own."""
    return add_billing_event(
        session,
        None,
        None,
        billing_event_id="be-payout",
        amount=amount,
        action="DISBURSED",
        transaction_type="DISBURSEMENT",
        invoice_id=None,
        usage_period_start_date=None,
        usage_period_end_date=None,
        invoice_date=paid_on,
        payment_due_date=None,
        **columns,
    )


def add_payout_failure(session: Session, *, amount: str, **columns: object) -> BillingEvent:
    """`be-fail`, the DISBURSEMENT_FAILURE row of the payout `be-payout` (its parent and its
    payout), on 8 December: the payout bounced. `columns` override any of that."""
    fields: dict[str, object] = {
        "invoice_date": None,
        "payment_due_date": None,
        "action_date": date(2026, 12, 8),
        "parent_billing_event_id": "be-payout",
        "disbursement_billing_event_id": "be-payout",
        **columns,
    }
    return add_billing_event(
        session,
        None,
        None,
        billing_event_id="be-fail",
        amount=amount,
        action="DISBURSED",
        transaction_type="DISBURSEMENT_FAILURE",
        invoice_id=None,
        usage_period_start_date=None,
        usage_period_end_date=None,
        **fields,  # type: ignore[arg-type]
    )


def set_event(engine: Engine, billing_event_id: str, **values: object) -> None:
    """Change columns of one stored billing event (the feed sent a corrected row)."""
    with transaction(engine) as session:
        session.execute(
            update(BillingEvent)
            .where(BillingEvent.billing_event_id == billing_event_id)
            .values(**values)
        )


def check_rerun_lifecycle(
    engine: Engine,
    rule: ModuleType,
    set_value: Callable[[str], None],
    *,
    changed: str,
    shows: Decimal,
    fixed: str,
    side: str = "observed_amount",
) -> None:
    """The one open exception of `rule` over re-runs: a plain re-run leaves it unchanged;
    `set_value(changed)` moves the evidence, and the re-run updates it to show `shows` as its
    `side`; `set_value(fixed)` removes the difference, and the re-run closes it."""
    again = run_rule(engine, rule)
    assert (again.stats.opened, again.stats.unchanged) == (0, 1)
    set_value(changed)
    updated = run_rule(engine, rule)
    assert updated.stats.updated == 1 and getattr(updated.only(), side) == shows
    set_value(fixed)
    closed = run_rule(engine, rule)
    assert closed.stats.closed == 1 and closed.open == []


def run_rule(
    engine: Engine,
    rule: ModuleType,
    period: str = "2026-10",
    *,
    as_of: date = AS_OF,
    **settings: object,
) -> RuleRun:
    """Run `rule` for `period` on its own, as of `as_of`, and read back its exceptions."""
    with using(ReconcileSettings(as_of=as_of, **settings)), transaction(engine) as session:  # type: ignore[arg-type]
        stats = apply_findings(
            session, rule=rule.RULE, period=period, findings=list(rule.find(session, period))
        )
    with transaction(engine) as session:
        rows = list(
            session.scalars(
                select(Discrepancy)
                .where(Discrepancy.rule == rule.RULE)
                .order_by(Discrepancy.natural_key)
            )
        )
        session.expunge_all()
    return RuleRun(stats=stats, exceptions=rows)
