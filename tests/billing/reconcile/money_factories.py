"""Factory functions for the money-side rule tests (cash, refunds, credits, FX) and a rule runner.

They complement `factories.py` (accounts, products, contracts, billing events, invoices):
same habits — add, flush, never commit; money as `Decimal` from strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import ModuleType

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from billing.db import transaction
from billing.models import Account, CreditNote, Discrepancy, FxRate, Payment, RefundRequest
from billing.reconcile.config import ReconcileSettings, using
from billing.reconcile.findings import ApplyStats, apply_findings

from .factories import dec

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
