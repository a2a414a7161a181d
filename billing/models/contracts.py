"""What was agreed: contracts / private offers with their rates, and partner agreements."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models.base import RATE, Base


class Contract(Base):
    """A contract or private offer: rates per dimension, fees, reseller terms, validity."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_key: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    channel: Mapped[str] = mapped_column(String(32))
    offer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    agreement_id: Mapped[str | None] = mapped_column(String(64), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    is_private_offer: Mapped[bool] = mapped_column(default=True)
    is_renewal: Mapped[bool] = mapped_column(default=False)
    # Contracted marketplace listing fee as a fraction (0.03 = 3 %), by AWS's schedule at signing.
    listing_fee_rate: Mapped[Decimal | None] = mapped_column(RATE)
    total_contract_value: Mapped[Decimal | None]
    discount_pct: Mapped[Decimal | None] = mapped_column(RATE)  # fraction off list
    commitment_amount: Mapped[Decimal | None]
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    # CPPO: the reseller, and the wholesale discount the ISV authorised (fraction off our price).
    reseller_name: Mapped[str | None]
    reseller_account_id: Mapped[str | None] = mapped_column(String(12))
    wholesale_discount_pct: Mapped[Decimal | None] = mapped_column(RATE)
    # Tax treatment: who collects and remits (aws, seller, or none).
    tax_party: Mapped[str] = mapped_column(String(16), default="aws")

    rates: Mapped[list[ContractRate]] = relationship(back_populates="contract", cascade="all, delete-orphan")


class ContractRate(Base):
    """The contracted price per unit of one dimension."""

    __tablename__ = "contract_rates"
    __table_args__ = (UniqueConstraint("contract_id", "dimension_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    dimension_key: Mapped[str] = mapped_column(String(64))
    unit_price: Mapped[Decimal] = mapped_column(RATE)
    included_quantity: Mapped[Decimal] = mapped_column(default=Decimal(0))
    contract: Mapped[Contract] = relationship(back_populates="rates")


class Agreement(Base):
    """The partner's agreement / entitlement record (AWS `agreement` feed columns)."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[str] = mapped_column(String(64), unique=True)
    offer_id: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    proposer_account_id: Mapped[str | None] = mapped_column(String(12))
    acceptor_account_id: Mapped[str | None] = mapped_column(String(12))
    start_time: Mapped[datetime]
    end_time: Mapped[datetime | None]
    acceptance_time: Mapped[datetime | None]
    intent: Mapped[str | None] = mapped_column(String(32))  # NEW, REPLACE, AMEND, ...
    preceding_agreement_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))  # ACTIVE, SUPERSEDED, ROLLED_BACK, CANCELLED, EXPIRED...
    currency_code: Mapped[str | None] = mapped_column(String(3))
    estimated_agreement_value: Mapped[Decimal | None]
