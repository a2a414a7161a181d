"""Knobs of the reconciliation rules, and the run they apply to.

`ReconcileSettings` has defaults for everything, so a rule can always ask `current()`.
`reconcile()` (see `run.py`) activates the settings of a run with `using(...)`; rules
read them through `current()` because the registry calls `find(session, period)` only.
Once `billing.settings.Settings` carries a `reconcile` field of this type, it becomes the
default (environment variables `TRIAGE_RECONCILE__...`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class ReconcileSettings(BaseModel):
    """Tolerances, grace periods and the run date of the reconciliation rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The run date: gates that wait for something to arrive (an invoice, a disbursement, a
    # day of the partner feed) compare against it. None = today (UTC). Tests pass a date.
    as_of: date | None = None
    # Usage: |ours − partner's| per account × product × dimension × month above this is raised.
    usage_quantity_tolerance: Decimal = Field(default=Decimal(0), ge=0)
    # Hours at each end of the month reported as "near the boundary" (timing differences:
    # AWS cuts at 00:00 UTC, late records land in the next month).
    boundary_hours: int = Field(default=6, ge=1, le=72)
    # How many days with the largest gaps an exception lists.
    gap_days_reported: int = Field(default=5, ge=1, le=31)
    # Billed rate vs contracted rate: differences per unit up to this are not raised.
    rate_tolerance: Decimal = Field(default=Decimal(0), ge=0)
    # Marketplace and direct invoices for a month are issued early in the next month;
    # `not_invoiced` waits this many days after the month ends.
    invoice_grace_days: int = Field(default=5, ge=0)
    # The daily usage feed lags a day; a feed day is missing only once this many days passed.
    partner_feed_lag_days: int = Field(default=2, ge=0)
    # Disbursement of an invoiced amount is due by payment_due_date + this (money-side rules).
    disbursement_grace_days: int = Field(default=5, ge=0)
    # Money-side rules (helper B). Amount differences up to this are rounding, not raised.
    amount_tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    # Listing fee: |observed rate − contracted rate| above this is raised (AWS rounds per line).
    listing_fee_rate_tolerance: Decimal = Field(default=Decimal("0.0005"), ge=0)
    # FX: |disbursed − amount × rate of the day| / expected above this fraction is raised.
    fx_tolerance: Decimal = Field(default=Decimal("0.005"), ge=0)
    # A payout's bank receipt is missing once this many days passed after the payout date.
    bank_receipt_grace_days: int = Field(default=3, ge=0)
    # An approved marketplace refund is missing once this many days passed after approval.
    refund_grace_days: int = Field(default=14, ge=0)
    # A direct invoice is short-paid / unpaid once due_date + this many days passed.
    payment_grace_days: int = Field(default=5, ge=0)
    # Cap on ids per record_refs list, so one exception never carries thousands of ids.
    max_record_refs: int = Field(default=200, ge=1)

    def run_date(self) -> date:
        """`as_of`, or today in UTC."""
        return self.as_of or datetime.now(UTC).date()


_ACTIVE: ContextVar[ReconcileSettings | None] = ContextVar("reconcile_settings", default=None)


def default_settings() -> ReconcileSettings:
    """The configured settings (`Settings.reconcile` once hooked in), else the defaults."""
    from billing.settings import get_settings  # late: settings read the environment

    configured = getattr(get_settings(), "reconcile", None)
    return configured if isinstance(configured, ReconcileSettings) else ReconcileSettings()


def current() -> ReconcileSettings:
    """The settings of the run in progress, or the configured defaults outside a run."""
    active = _ACTIVE.get()
    return active if active is not None else default_settings()


@contextmanager
def using(settings: ReconcileSettings) -> Iterator[ReconcileSettings]:
    """Make `settings` the ones `current()` returns inside the block."""
    token = _ACTIVE.set(settings)
    try:
        yield settings
    finally:
        _ACTIVE.reset(token)
