"""Declarative base, shared column types and the channel vocabulary."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Money and quantities are exact; 20 digits with 6 places holds any invoice and sub-cent rates.
MONEY = Numeric(20, 6)
RATE = Numeric(20, 10)

# Named constraints so Alembic migrations are deterministic on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps.

    SQLite has no time zones and hands back naive values; naive input is taken to be UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """Timezone-aware now in UTC (every timestamp we store is UTC)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of every table of the product."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        Decimal: MONEY,
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
        str: String(255),
    }


class Channel(enum.StrEnum):
    """How a sale reaches the customer; decides whose records we reconcile against."""

    AWS_MARKETPLACE = "aws_marketplace"
    AZURE_MARKETPLACE = "azure_marketplace"
    GCP_MARKETPLACE = "gcp_marketplace"
    RESELLER = "reseller"  # AWS Channel Partner Private Offer (CPPO)
    DIRECT = "direct"

    @property
    def is_marketplace(self) -> bool:
        return self is not Channel.DIRECT


CHANNEL_VALUES = [c.value for c in Channel]
