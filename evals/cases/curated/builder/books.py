"""Seeds our own books for a case: our invoices (lines priced from our usage when asked), the cash
we received, our credit notes and refund requests."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.models import CreditNote, Invoice, InvoiceLine, Payment, RefundRequest, UsageRecord
from billing.money import quantize
from billing.reconcile.periods import period_bounds
from evals.cases.curated.builder.spec import CaseSpec


def seed_books(
    session: Session, spec: CaseSpec, account_id: int | None, contract_ids: dict[str, int]
) -> None:
    """Insert our invoices (lines priced, totals summed), cash, credit notes and refund requests."""
    money = spec.money
    for inv in money.our_invoices:
        lines = []
        for n, line in enumerate(inv.lines, start=1):
            quantity = (
                _our_usage(session, account_id, line.product, line.dim, inv.period)
                if line.quantity == "usage"
                else line.quantity
            )
            lines.append(
                InvoiceLine(
                    line_no=n,
                    product_code=line.product,
                    dimension_key=line.dim,
                    description=line.description,
                    quantity=quantity,
                    unit_price=line.unit_price,
                    amount=line.amount
                    if line.amount is not None
                    else quantize(quantity * line.unit_price, inv.currency),
                )
            )
        subtotal = sum((line.amount for line in lines), Decimal(0))
        if account_id is None:
            raise ValueError(f"case {spec.id}: invoice {inv.number} needs the case's account")
        session.add(
            Invoice(
                invoice_number=inv.number,
                account_id=account_id,
                contract_id=contract_ids[inv.contract] if inv.contract else None,
                channel=inv.channel,
                period=inv.period,
                currency=inv.currency,
                issue_date=inv.issue,
                due_date=inv.due,
                subtotal=subtotal,
                tax=inv.tax,
                total=subtotal + inv.tax,
                status=inv.status,
                partner_invoice_id=inv.partner_invoice_id,
                lines=lines,
            )
        )
    for p in money.payments:
        session.add(
            Payment(
                payment_id=p.id,
                account_id=account_id if p.identified else None,
                channel=p.channel,
                kind=p.kind,
                currency=p.currency,
                amount=p.amount,
                received_date=p.received,
                invoice_number=p.invoice,
                bank_trace_id=p.bank_trace_id,
                payer=p.payer,
                remittance_note=p.note,
            )
        )
    for n in money.credit_notes:
        session.add(
            CreditNote(
                credit_note_number=n.number,
                account_id=account_id,
                invoice_number=n.invoice,
                currency=n.currency,
                amount=n.amount,
                issue_date=n.issue,
                reason=n.reason,
            )
        )
    for r in money.refunds:
        session.add(
            RefundRequest(
                request_id=r.id,
                account_id=account_id,
                channel=r.channel,
                partner_invoice_id=r.partner_invoice_id,
                currency=r.currency,
                amount=r.amount,
                status=r.status,
                requested_date=r.requested,
                approved_date=r.approved,
                reason=r.reason,
            )
        )
    session.flush()


def _our_usage(
    session: Session, account_id: int | None, product: str | None, dim: str | None, period: str
) -> Decimal:
    """Our metered usage of one product and dimension in the calendar month `period`."""
    bounds = period_bounds(period)
    total = session.scalar(
        select(func.sum(UsageRecord.quantity)).where(
            UsageRecord.account_id == account_id,
            UsageRecord.product_code == product,
            UsageRecord.dimension_key == dim,
            UsageRecord.usage_hour >= bounds.start,
            UsageRecord.usage_hour < bounds.end,
        )
    )
    if not total:
        raise ValueError(f"no usage of {product}/{dim} in {period} to bill")
    return Decimal(str(total)).normalize()
