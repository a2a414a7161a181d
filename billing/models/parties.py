"""Who buys and what they buy: accounts, products and their pricing dimensions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models.base import Base, utcnow


class Account(Base):
    """A customer, with the ids each partner knows it by."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_key: Mapped[str] = mapped_column(String(64), unique=True)  # our CRM id, e.g. ACME-0001
    name: Mapped[str]
    aws_account_id: Mapped[str | None] = mapped_column(String(12), index=True)
    # AWS Metering's CustomerIdentifier (SaaS) for this buyer.
    aws_customer_identifier: Mapped[str | None] = mapped_column(String(64), index=True)
    azure_subscription_id: Mapped[str | None] = mapped_column(String(64))
    gcp_billing_account_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Product(Base):
    """A listing; `product_code` is what metering sends, `marketplace_product_id` what feeds carry."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_code: Mapped[str] = mapped_column(String(64), unique=True)
    marketplace_product_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str]
    dimensions: Mapped[list[Dimension]] = relationship(back_populates="product", cascade="all, delete-orphan")


class Dimension(Base):
    """A pricing dimension of a product (e.g. `api_calls`, unit `requests`)."""

    __tablename__ = "dimensions"
    __table_args__ = (UniqueConstraint("product_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None]
    product: Mapped[Product] = relationship(back_populates="dimensions")
