"""Rule `usage_vs_partner_usage`: our hourly metering vs AWS's dailyusagefeed_v1."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, update

from billing.db import transaction
from billing.models import ExceptionStatus, PartnerUsage, UsageRecord
from billing.reconcile.rules import usage_vs_partner_usage as rule

from .factories import add_partner_usage, add_usage, aws_month, make_account, reconcile_once, utc

OCT_31 = date(2026, 10, 31)


def _set_partner(engine: Engine, day: date, quantity: str, dimension: str = "api_calls") -> None:
    with transaction(engine) as s:
        s.execute(update(PartnerUsage).where(PartnerUsage.usage_date == day,
                                             PartnerUsage.dimension_key == dimension)
                  .values(usage_quantity=Decimal(quantity)))


def _late_cutoff_scenario(engine: Engine) -> None:
    """DOMAIN.md (timing_difference): AWS cuts at 00:00 UTC; here the partner books the last
    hour of October (70 api_calls at 22:00) on November 1st instead."""
    with transaction(engine) as s:
        month = aws_month(s)
        add_partner_usage(s, month.account, month.product, "api_calls", {date(2026, 11, 1): "70"})
    _set_partner(engine, OCT_31, "30")


def test_clean_month_raises_nothing(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    run = reconcile_once(engine, rule)
    assert run.exceptions == []


def test_shortfall_found_with_amounts_refs_and_boundary_evidence(engine: Engine) -> None:
    _late_cutoff_scenario(engine)
    run = reconcile_once(engine, rule)
    assert run.stats.opened == 1
    (exc,) = run.exceptions
    assert exc.kind == "usage_shortfall"
    assert (exc.product_code, exc.dimension_key, exc.channel, exc.period) == (
        "7x1k2m9q4w8e3r6t5y0u1i2o3", "api_calls", "aws_marketplace", "2026-10")
    assert exc.expected_quantity == Decimal("250") and exc.observed_quantity == Decimal("180")
    assert exc.delta_quantity == Decimal("-70")
    # Amount = quantity × contracted rate (0.002 USD per api call).
    assert exc.currency == "USD"
    assert exc.expected_amount == Decimal("0.5") and exc.observed_amount == Decimal("0.36")
    assert exc.delta_amount == Decimal("-0.14")
    assert exc.record_refs["contracts"] == ["C-ACME-0001"]
    assert len(exc.record_refs["partner_usage"]) == 2  # Oct 1 and Oct 31 rows, not Nov 1
    assert len(exc.record_refs["usage_records"]) == 2  # our hours of the largest-gap day (Oct 31)
    details = exc.details
    assert details["largest_gap_days"] == [{"day": "2026-10-31", "ours": "100", "partner": "30", "gap": "-70"}]
    assert details["boundary"]["our_last_hours_quantity"] == "100"
    assert details["boundary"]["partner_next_day_surplus"] == "70"
    assert details["account_product_total"]["agrees"] is False


def test_rerun_is_idempotent(engine: Engine) -> None:
    _late_cutoff_scenario(engine)
    first = reconcile_once(engine, rule)
    again = reconcile_once(engine, rule)
    assert (again.stats.opened, again.stats.updated, again.stats.unchanged) == (0, 0, 1)
    assert [e.id for e in again.exceptions] == [e.id for e in first.exceptions]


def test_changed_partner_data_updates_the_exception(engine: Engine) -> None:
    _late_cutoff_scenario(engine)
    first = reconcile_once(engine, rule)
    _set_partner(engine, OCT_31, "60")
    second = reconcile_once(engine, rule)
    assert second.stats.updated == 1 and second.stats.opened == 0
    (exc,) = second.exceptions
    assert exc.id == first.exceptions[0].id
    assert exc.delta_quantity == Decimal("-40") and exc.delta_amount == Decimal("-0.08")


def test_fixed_difference_closes_with_reason(engine: Engine) -> None:
    _late_cutoff_scenario(engine)
    reconcile_once(engine, rule)
    _set_partner(engine, OCT_31, "100")
    run = reconcile_once(engine, rule)
    assert run.stats.closed == 1
    (exc,) = run.exceptions
    assert exc.status == ExceptionStatus.CLOSED
    assert "no longer found by rule usage_vs_partner_usage" in (exc.close_reason or "")


def test_quantity_moved_between_dimensions_shows_the_total_agrees(engine: Engine) -> None:
    """DOMAIN.md (wrong_dimension): totals agree, the dimension mix differs."""
    with transaction(engine) as s:
        month = aws_month(s)
        add_partner_usage(s, month.account, month.product, "storage_gb", {OCT_31: "50"}, rate="0.10")
    _set_partner(engine, OCT_31, "50")
    run = reconcile_once(engine, rule)
    kinds = {e.dimension_key: e for e in run.exceptions}
    assert kinds["api_calls"].kind == "usage_shortfall" and kinds["api_calls"].delta_quantity == Decimal("-50")
    assert kinds["storage_gb"].kind == "usage_excess" and kinds["storage_gb"].delta_quantity == Decimal("50")
    # storage_gb is priced at 0.10: the excess is worth USD 5.
    assert kinds["storage_gb"].observed_amount == Decimal("5") and kinds["storage_gb"].expected_amount == Decimal("0")
    assert all(e.details["account_product_total"]["agrees"] for e in run.exceptions)


def test_tolerance_absorbs_small_gaps(engine: Engine) -> None:
    _late_cutoff_scenario(engine)
    assert reconcile_once(engine, rule, usage_quantity_tolerance=Decimal("70")).exceptions == []
    assert len(reconcile_once(engine, rule, usage_quantity_tolerance=Decimal("69")).exceptions) == 1


def test_partner_usage_of_an_unknown_account_is_an_excess(engine: Engine) -> None:
    with transaction(engine) as s:
        month = aws_month(s)
        stranger = make_account(s, "NOBODY-0001", aws_account_id="555566667777", aws_customer_identifier=None)
        add_partner_usage(s, stranger, month.product, "api_calls", {OCT_31: "5"})
        s.delete(stranger)  # the feed names an AWS account we have no record of
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.kind == "usage_excess" and exc.account_id is None
    assert exc.natural_key.endswith("api_calls:aws:555566667777")
    assert exc.details["has_contract"] is False and exc.expected_amount is None


def test_month_without_partner_feed_is_not_compared(engine: Engine) -> None:
    """The feed not delivered yet is `partner_feed_missing_day`'s business, not a shortfall per key."""
    with transaction(engine) as s:
        month = aws_month(s, with_partner_usage=False)
        add_usage(s, month.account, month.product, "api_calls", {utc(2026, 11, 1): "9"})
    assert reconcile_once(engine, rule).exceptions == []
    assert reconcile_once(engine, rule, "2026-11").exceptions == []
    with transaction(engine) as s:
        assert s.query(UsageRecord).count() == 6
