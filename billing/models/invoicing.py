"""Our side of the money: invoices, credit notes, refund approvals, cash received, FX rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models.base import RATE, Base


class Invoice(Base):
    """An invoice we issued (direct) or expect the marketplace to issue on our behalf."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_number: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    channel: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM billed
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date]
    due_date: Mapped[date]
    subtotal: Mapped[Decimal]
    tax: Mapped[Decimal] = mapped_column(default=Decimal(0))
    total: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(16), default="issued")  # issued | paid | void
    # The marketplace's invoice id when the marketplace billed it.
    partner_invoice_id: Mapped[str | None] = mapped_column(String(64), index=True)
    lines: Mapped[list[InvoiceLine]] = relationship(back_populates="invoice", cascade="all, delete-orphan")


class InvoiceLine(Base):
    """One priced line of an invoice."""

    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    line_no: Mapped[int]
    product_code: Mapped[str | None] = mapped_column(String(64))
    dimension_key: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None]
    quantity: Mapped[Decimal]
    unit_price: Mapped[Decimal] = mapped_column(RATE)
    amount: Mapped[Decimal]
    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class CreditNote(Base):
    """A credit we issued against an invoice (or on account)."""

    __tablename__ = "credit_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_note_number: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    invoice_number: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal]
    issue_date: Mapped[date]
    reason: Mapped[str | None]


class RefundRequest(Base):
    """A refund we requested or approved (e.g. the marketplace refund form / support case)."""

    __tablename__ = "refund_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    partner_invoice_id: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(16))  # requested | approved | rejected
    requested_date: Mapped[date]
    approved_date: Mapped[date | None]
    reason: Mapped[str | None]


class Payment(Base):
    """Cash in: a bank receipt, a customer payment, or a marketplace disbursement."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(24))  # customer_payment | disbursement | bank_receipt
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal]
    received_date: Mapped[date]
    invoice_number: Mapped[str | None] = mapped_column(String(64), index=True)
    bank_trace_id: Mapped[str | None] = mapped_column(String(64), index=True)
    payer: Mapped[str | None]
    remittance_note: Mapped[str | None] = mapped_column(String(2000))


class FxRate(Base):
    """Exchange rate to USD on a date (what finance books conversions at)."""

    __tablename__ = "fx_rates"
    __table_args__ = (UniqueConstraint("rate_date", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rate_date: Mapped[date]
    currency: Mapped[str] = mapped_column(String(3))
    usd_per_unit: Mapped[Decimal] = mapped_column(RATE)
