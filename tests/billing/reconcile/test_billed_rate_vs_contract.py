"""Rule `billed_rate_vs_contract`: dailyusagefeed rate vs the contracted rate.

DOMAIN.md (price_mismatch): "billed rate ≠ contracted rate — feed rate ≠ private-offer term;
buyer on the public offer".
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, update

from billing.db import transaction
from billing.models import ExceptionStatus, PartnerUsage
from billing.reconcile.rules import billed_rate_vs_contract as rule

from .factories import aws_month, make_contract, reconcile_once


def _bill_oct_31_at(engine: Engine, rate: str) -> None:
    with transaction(engine) as s:
        s.execute(update(PartnerUsage).where(PartnerUsage.usage_date == date(2026, 10, 31))
                  .values(usage_rate_per_unit_in_pricing_currency=Decimal(rate)))


def test_clean_month_raises_nothing(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    assert reconcile_once(engine, rule).exceptions == []


def test_public_price_instead_of_private_offer_is_found(engine: Engine) -> None:
    """The buyer billed at a public 0.0025 instead of the private offer's 0.002 on Oct 31 (100 calls)."""
    with transaction(engine) as s:
        aws_month(s)
    _bill_oct_31_at(engine, "0.0025")
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.kind == "rate_mismatch" and exc.channel == "aws_marketplace"
    assert exc.expected_quantity == exc.observed_quantity == Decimal("100")
    assert exc.expected_amount == Decimal("0.2") and exc.observed_amount == Decimal("0.25")
    assert exc.delta_amount == Decimal("0.05") and exc.currency == "USD"
    assert exc.record_refs["contracts"] == ["C-ACME-0001"] and len(exc.record_refs["partner_usage"]) == 1
    assert exc.details["contracted_rate"] == "0.002" and exc.details["billed_rate_max"] == "0.0025"
    assert exc.details["first_day"] == exc.details["last_day"] == "2026-10-31"


def test_the_contract_valid_on_the_day_decides(engine: Engine) -> None:
    """A renewal from Oct 15 at 0.0025: Oct 31 billed at 0.0025 is right, Oct 1 at 0.002 too."""
    with transaction(engine) as s:
        month = aws_month(s)
        month.contract.end_date = date(2026, 10, 14)
        make_contract(s, month.account, month.product, contract_key="C-ACME-0002", start_date=date(2026, 10, 15),
                      rates={"api_calls": "0.0025", "storage_gb": "0.10"}, is_renewal=True)
    _bill_oct_31_at(engine, "0.0025")
    assert reconcile_once(engine, rule).exceptions == []
    _bill_oct_31_at(engine, "0.002")  # still the old rate after the renewal
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.record_refs["contracts"] == ["C-ACME-0002"] and exc.delta_amount == Decimal("-0.05")


def test_tolerance_absorbs_sub_tolerance_differences(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    _bill_oct_31_at(engine, "0.00201")
    assert reconcile_once(engine, rule, rate_tolerance=Decimal("0.00001")).exceptions == []
    assert len(reconcile_once(engine, rule).exceptions) == 1


def test_cppo_rows_at_the_resellers_price_are_not_compared(engine: Engine) -> None:
    """DOMAIN.md (CPPO): the reseller marks up the wholesale price; the buyer's rate is not ours."""
    with transaction(engine) as s:
        month = aws_month(s)
        month.contract.channel = "reseller"
    _bill_oct_31_at(engine, "0.0031")
    assert reconcile_once(engine, rule).exceptions == []


def test_rerun_update_and_close(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    _bill_oct_31_at(engine, "0.003")
    first = reconcile_once(engine, rule)
    again = reconcile_once(engine, rule)
    assert (again.stats.opened, again.stats.unchanged) == (0, 1)
    assert [e.id for e in again.exceptions] == [e.id for e in first.exceptions]
    _bill_oct_31_at(engine, "0.004")
    changed = reconcile_once(engine, rule)
    assert changed.stats.updated == 1 and changed.exceptions[0].observed_amount == Decimal("0.4")
    _bill_oct_31_at(engine, "0.002")  # the partner corrected the rate
    closed = reconcile_once(engine, rule)
    assert closed.stats.closed == 1 and closed.exceptions[0].status == ExceptionStatus.CLOSED
