"""AWS Marketplace `billing_event` feed rows, current state only, with AWS's own column names."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from billing.models.base import Base


class BillingEvent(Base):
    """One billing event. The feed is bi-temporal: we keep the latest `update_date` per id and
    mark rows carrying a `delete_date` as deleted rather than dropping them (audit)."""

    __tablename__ = "billing_events"
    __table_args__ = (
        Index("ix_billing_events_parent", "parent_billing_event_id"),
        Index("ix_billing_events_disbursement", "disbursement_billing_event_id"),
        Index("ix_billing_events_end_user", "end_user_account_id", "invoice_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    billing_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    from_account_id: Mapped[str | None] = mapped_column(String(12))
    to_account_id: Mapped[str | None] = mapped_column(String(12))
    end_user_account_id: Mapped[str | None] = mapped_column(String(12))
    product_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # INVOICED | FORGIVEN | DISBURSED | COLLECTED
    transaction_type: Mapped[str] = mapped_column(String(40))
    parent_billing_event_id: Mapped[str | None] = mapped_column(String(64))
    disbursement_billing_event_id: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    balance_impacting: Mapped[bool]
    invoice_date: Mapped[date | None]
    payment_due_date: Mapped[date | None]
    usage_period_start_date: Mapped[date | None]
    usage_period_end_date: Mapped[date | None]
    invoice_id: Mapped[str | None] = mapped_column(String(64), index=True)
    billing_address_id: Mapped[str | None] = mapped_column(String(64))
    transaction_reference_id: Mapped[str | None] = mapped_column(String(64))
    bank_trace_id: Mapped[str | None] = mapped_column(String(64), index=True)
    broker_id: Mapped[str | None] = mapped_column(String(64))
    agreement_id: Mapped[str | None] = mapped_column(String(64))
    offer_id: Mapped[str | None] = mapped_column(String(64))
    catalog: Mapped[str | None] = mapped_column(String(32))
    action_date: Mapped[date | None]
    buyer_invoice_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the case's rows are found by it
    line_item_id: Mapped[str | None] = mapped_column(String(64))
    invoice_variant: Mapped[str | None] = mapped_column(String(16))
    charge_variant: Mapped[str | None] = mapped_column(String(16))
    charge_side: Mapped[str | None] = mapped_column(String(16))
    recipient_account_id: Mapped[str | None] = mapped_column(String(12))
    disbursement_amount: Mapped[Decimal | None]
    disbursement_currency: Mapped[str | None] = mapped_column(String(3))
    disbursement_reference_number: Mapped[str | None] = mapped_column(String(64))
    # Bi-temporal columns of the feed.
    valid_from: Mapped[datetime | None]
    update_date: Mapped[datetime | None]
    delete_date: Mapped[datetime | None]
    ingest_batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.id"))
