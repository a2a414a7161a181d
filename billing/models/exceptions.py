"""Reconciliation exceptions: a stated difference between two records of the same money."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billing.models.base import Base, utcnow


class ExceptionStatus(enum.StrEnum):
    OPEN = "open"  # raised by reconciliation, not yet triaged
    TRIAGED = "triaged"  # the agent proposed a resolution
    IN_REVIEW = "in_review"  # waiting for a person
    RESOLVED = "resolved"  # a person (or policy) accepted the resolution
    CLOSED = "closed"  # the difference vanished on a later run; see close_reason


class Discrepancy(Base):
    """One exception. Rules state the *difference*; the agent decides the *cause*.

    `natural_key` is built from the rule and the grain it compares (account, product,
    dimension, period...), so re-running reconciliation updates instead of duplicating."""

    __tablename__ = "exceptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    natural_key: Mapped[str] = mapped_column(String(255), unique=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    # What differs, in words of the data (e.g. `usage_shortfall`), never a cause.
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ExceptionStatus.OPEN, index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(7), index=True)
    product_code: Mapped[str | None] = mapped_column(String(64))
    dimension_key: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(3))
    expected_amount: Mapped[Decimal | None]
    observed_amount: Mapped[Decimal | None]
    delta_amount: Mapped[Decimal | None]
    expected_quantity: Mapped[Decimal | None]
    observed_quantity: Mapped[Decimal | None]
    delta_quantity: Mapped[Decimal | None]
    # {"billing_events": [...ids], "usage_records": [...], "invoices": [...], ...}
    record_refs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Rule-specific computed facts (e.g. {"missing_hours": 7, "fee_rate_observed": "0.03"}).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    # A hash of the evidence the rule computed, to tell "changed" from "same" on re-runs.
    evidence_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(Text)
    # Where it came from: `reconcile`, or `import` (a case bundle from another system).
    source: Mapped[str] = mapped_column(String(16), default="reconcile")
    # A batch worker's lease on it while it is open (`agent.claims`): who holds it, and until
    # when. Another worker takes it only once the lease has lapsed.
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claim_expires_at: Mapped[datetime | None]
