"""Rule `metering_gaps`: usage hours without a Success metering record; days missing from the partner feed.

DOMAIN.md (AWS Metering Service): AWS deduplicates per product/customer/hour/dimension and
rejects records 6 h or more late; evidence of dropped metering is "hours missing in the usage
feed; UnprocessedRecords; no MeteringRecordId".
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Engine, delete

from billing.db import transaction
from billing.models import Account, ExceptionStatus, MeteringResult, Product
from billing.reconcile.rules import metering_gaps as rule

from .factories import add_metering, add_partner_usage, add_usage, aws_month, reconcile_once, utc

LAST_HOUR = utc(2026, 10, 31, 22)


def _drop_metering(engine: Engine, hour: datetime = LAST_HOUR) -> None:
    with transaction(engine) as s:
        s.execute(delete(MeteringResult).where(MeteringResult.timestamp == hour))


def test_clean_month_raises_nothing(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    assert reconcile_once(engine, rule).exceptions == []


def test_hour_without_success_record_is_found(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    _drop_metering(engine)
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.kind == "metering_missing_hours"
    assert (exc.dimension_key, exc.channel) == ("api_calls", "aws_marketplace")
    assert exc.expected_quantity == Decimal("70") and exc.observed_quantity == Decimal("0")
    assert exc.expected_amount == Decimal("0.14") and exc.delta_amount == Decimal("-0.14")
    assert exc.details["missing_hours"] == 1 and exc.details["first_hour"] == "2026-10-31T22:00:00Z"
    assert exc.details["hours_answered_otherwise"] == 0
    assert len(exc.record_refs["usage_records"]) == 1 and exc.record_refs["contracts"] == ["C-ACME-0001"]


def test_unprocessed_answer_is_counted_and_account_id_form_accepted(engine: Engine) -> None:
    """Newer form: CustomerAWSAccountId instead of CustomerIdentifier (DOMAIN.md)."""
    with transaction(engine) as s:
        month = aws_month(s, with_metering=False)
        add_metering(s, month.account, month.product, "api_calls",
                     {h: q for h, q in month.usage.items() if q > 0 and h != LAST_HOUR}, by_account_id=True)
        add_metering(s, month.account, month.product, "api_calls", {LAST_HOUR: "70"}, status="Unprocessed")
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.details["missing_hours"] == 1 and exc.details["hours_answered_otherwise"] == 1


def test_month_without_any_metering_is_not_checked(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s, with_metering=False)
    assert reconcile_once(engine, rule).exceptions == []


def test_rerun_update_and_close(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    _drop_metering(engine)
    first = reconcile_once(engine, rule)
    again = reconcile_once(engine, rule)
    assert (again.stats.opened, again.stats.unchanged) == (0, 1)
    assert [e.id for e in again.exceptions] == [e.id for e in first.exceptions]
    _drop_metering(engine, utc(2026, 10, 31, 23))
    changed = reconcile_once(engine, rule)
    assert changed.stats.updated == 1 and changed.exceptions[0].expected_quantity == Decimal("100")
    with transaction(engine) as s:  # resent inside the window: both hours now Success
        add_metering(s, s.query(Account).one(), s.query(Product).one(), "api_calls",
                     {LAST_HOUR: "70", utc(2026, 10, 31, 23): "30"})
    closed = reconcile_once(engine, rule)
    assert closed.stats.closed == 1 and closed.exceptions[0].status == ExceptionStatus.CLOSED


def test_day_missing_from_partner_feed_once_the_feed_is_due(engine: Engine) -> None:
    with transaction(engine) as s:
        month = aws_month(s)
        mid = {utc(2026, 10, 15, 9): "10"}
        add_usage(s, month.account, month.product, "api_calls", mid)
        add_metering(s, month.account, month.product, "api_calls", mid)
    # The feed lags: on Oct 16 the 15th is not due yet (lag 2 days); on Oct 17 it is.
    assert reconcile_once(engine, rule, as_of=date(2026, 10, 16)).exceptions == []
    run = reconcile_once(engine, rule, as_of=date(2026, 10, 17))
    (exc,) = run.exceptions
    assert exc.kind == "partner_feed_missing_day" and exc.account_id is None
    assert exc.details["missing_days"] == ["2026-10-15"] and exc.expected_quantity == Decimal("10")
    assert exc.record_refs == {"products": ["7x1k2m9q4w8e3r6t5y0u1i2o3"]}
    # The day arrives: the exception closes.
    with transaction(engine) as s:
        add_partner_usage(s, s.query(Account).one(), s.query(Product).one(), "api_calls", {date(2026, 10, 15): "10"})
    closed = reconcile_once(engine, rule)
    assert closed.stats.closed == 1
