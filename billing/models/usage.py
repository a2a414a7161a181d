"""Usage as we metered it, what we sent to the marketplace, and what the partner says it saw."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from billing.models.base import RATE, Base


class UsageRecord(Base):
    """One hour of one dimension for one account, from our own metering pipeline."""

    __tablename__ = "usage_records"
    # AWS deduplicates per product/customer/hour/dimension; so do we (the natural key).
    __table_args__ = (UniqueConstraint("account_id", "product_code", "dimension_key", "usage_hour"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    product_code: Mapped[str] = mapped_column(String(64))
    dimension_key: Mapped[str] = mapped_column(String(64))
    usage_hour: Mapped[datetime]  # start of the hour, UTC
    quantity: Mapped[Decimal]
    source_record_id: Mapped[str | None] = mapped_column(String(64))
    ingest_batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.id"))


class MeteringResult(Base):
    """One usage record of a `BatchMeterUsage` call and what AWS answered for it."""

    __tablename__ = "metering_results"
    __table_args__ = (
        UniqueConstraint("product_code", "customer_ref", "dimension", "timestamp", "status"),
        Index("ix_metering_results_customer_hour", "customer_ref", "timestamp"),
        # The few records AWS did not accept, without reading a customer's every hour to find
        # them (queries spell the condition inline, as here, for the planners to match it).
        Index("ix_metering_results_not_accepted", "customer_ref", "timestamp",
              sqlite_where=text("status != 'Success'"), postgresql_where=text("status != 'Success'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_code: Mapped[str] = mapped_column(String(64))
    # CustomerIdentifier, or CustomerAWSAccountId for the newer form; `customer_ref` is whichever was sent.
    customer_identifier: Mapped[str | None] = mapped_column(String(64))
    customer_aws_account_id: Mapped[str | None] = mapped_column(String(12))
    customer_ref: Mapped[str] = mapped_column(String(64))
    license_arn: Mapped[str | None] = mapped_column(String(255))
    dimension: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime]
    quantity: Mapped[Decimal]
    # Success | CustomerNotSubscribed | DuplicateRecord | Unprocessed (listed in UnprocessedRecords)
    status: Mapped[str] = mapped_column(String(32))
    metering_record_id: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None]
    ingest_batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.id"))


class PartnerUsage(Base):
    """A row of AWS's `dailyusagefeed_v1`: the partner's view of usage, AWS column names."""

    __tablename__ = "partner_usage"
    __table_args__ = (
        UniqueConstraint("usage_date", "product_id", "end_user_account_id", "dimension_key", "region", "offer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    usage_feed_id: Mapped[str | None] = mapped_column(String(64))
    usage_date: Mapped[date]
    product_id: Mapped[str] = mapped_column(String(64))
    agreement_id: Mapped[str | None] = mapped_column(String(64))
    end_user_account_id: Mapped[str] = mapped_column(String(12))
    payer_account_id: Mapped[str | None] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(32), default="")
    dimension_key: Mapped[str] = mapped_column(String(64))
    usage_unit: Mapped[str | None] = mapped_column(String(32))
    usage_quantity: Mapped[Decimal]
    pricing_currency: Mapped[str] = mapped_column(String(3))
    usage_rate_per_unit_in_pricing_currency: Mapped[Decimal | None] = mapped_column(RATE)
    estimated_revenue_in_pricing_currency: Mapped[Decimal | None]
    offer_id: Mapped[str] = mapped_column(String(64), default="")
    recipient_account_id: Mapped[str | None] = mapped_column(String(12))
    charge_item_description: Mapped[str | None]
    catalog: Mapped[str | None] = mapped_column(String(32))
    ingest_batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.id"))
