"""Rule `metering_not_accepted`: BatchMeterUsage results other than `Success`.

DOMAIN.md (AWS Metering Service): each record is answered `Success`, `CustomerNotSubscribed`
or `DuplicateRecord`; records AWS did not process come back in `UnprocessedRecords`; a retry
is deduplicated per product/customer/hour/dimension and the original quantity is billed.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, delete, update

from billing.db import transaction
from billing.models import ExceptionStatus, MeteringResult
from billing.reconcile.rules import metering_not_accepted as rule

from .factories import add_metering, aws_month, make_account, reconcile_once, utc

H1, H2 = utc(2026, 10, 5, 10), utc(2026, 10, 5, 11)


def test_clean_month_raises_nothing(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    assert reconcile_once(engine, rule).exceptions == []


def test_not_subscribed_records_grouped_with_counts_and_amounts(engine: Engine) -> None:
    with transaction(engine) as s:
        month = aws_month(s)
        add_metering(s, month.account, month.product, "api_calls", {H1: "40", H2: "60"},
                     status="CustomerNotSubscribed", by_account_id=True)
    run = reconcile_once(engine, rule)
    (exc,) = run.exceptions
    assert exc.kind == "metering_customer_not_subscribed"
    assert exc.account_id is not None and exc.dimension_key == "api_calls"
    assert exc.expected_quantity == Decimal("100") and exc.observed_quantity == Decimal("0")
    assert exc.expected_amount == Decimal("0.2") and exc.delta_amount == Decimal("-0.2")
    assert exc.record_refs["contracts"] == ["C-ACME-0001"] and len(exc.record_refs["metering_results"]) == 2
    assert exc.details["records"] == 2
    assert (exc.details["first_timestamp"], exc.details["last_timestamp"]) == (
        "2026-10-05T10:00:00Z", "2026-10-05T11:00:00Z")
    assert exc.details["customer_refs"] == ["111122223333"]


def test_duplicate_with_another_quantity_shows_what_aws_accepted(engine: Engine) -> None:
    """A retry carrying another quantity: AWS keeps billing the original (DOMAIN.md)."""
    with transaction(engine) as s:
        month = aws_month(s)
        add_metering(s, month.account, month.product, "api_calls", {utc(2026, 10, 1, 0): "120"},
                     status="DuplicateRecord")
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.kind == "metering_duplicate_record"
    assert exc.expected_quantity == Decimal("120") and exc.observed_quantity == Decimal("100")
    assert exc.details["hours_also_accepted"] == 1 and exc.details["hours_accepted_with_other_quantity"] == 1


def test_each_status_is_its_own_exception_and_unknown_customers_stay_apart(engine: Engine) -> None:
    with transaction(engine) as s:
        month = aws_month(s)
        add_metering(s, month.account, month.product, "api_calls", {H1: "5"}, status="Unprocessed")
        add_metering(s, month.account, month.product, "api_calls", {H2: "7"}, status="CustomerNotSubscribed")
        ghost = make_account(s, "GHOST-0001", aws_account_id="222233334444", aws_customer_identifier="cust-ghost")
        add_metering(s, ghost, month.product, "api_calls", {H1: "3"}, status="Unprocessed")
        s.delete(ghost)
    run = reconcile_once(engine, rule)
    kinds = sorted((e.kind, e.account_id is None) for e in run.exceptions)
    assert kinds == [("metering_customer_not_subscribed", False), ("metering_unprocessed", False),
                     ("metering_unprocessed", True)]
    ghost_exc = next(e for e in run.exceptions if e.account_id is None)
    assert ghost_exc.natural_key.endswith(":ref:cust-ghost") and ghost_exc.currency is None


def test_rerun_update_and_close(engine: Engine) -> None:
    with transaction(engine) as s:
        month = aws_month(s)
        add_metering(s, month.account, month.product, "api_calls", {H1: "40"}, status="Unprocessed")
    first = reconcile_once(engine, rule)
    again = reconcile_once(engine, rule)
    assert (again.stats.opened, again.stats.unchanged) == (0, 1)
    assert [e.id for e in again.exceptions] == [e.id for e in first.exceptions]

    with transaction(engine) as s:
        s.execute(update(MeteringResult).where(MeteringResult.status == "Unprocessed").values(quantity=Decimal("45")))
    changed = reconcile_once(engine, rule)
    assert changed.stats.updated == 1 and changed.exceptions[0].expected_quantity == Decimal("45")

    with transaction(engine) as s:  # the retry went through: the Unprocessed answer is superseded
        s.execute(delete(MeteringResult).where(MeteringResult.status == "Unprocessed"))
    closed = reconcile_once(engine, rule)
    assert closed.stats.closed == 1 and closed.exceptions[0].status == ExceptionStatus.CLOSED
    assert closed.exceptions[0].close_reason


def test_other_months_are_not_counted(engine: Engine) -> None:
    with transaction(engine) as s:
        month = aws_month(s)
        add_metering(s, month.account, month.product, "api_calls", {utc(2026, 11, 1, 0): "9"}, status="Unprocessed")
    assert reconcile_once(engine, rule).exceptions == []
    assert len(reconcile_once(engine, rule, "2026-11").exceptions) == 1


def test_unknown_status_gets_a_kind_of_its_own() -> None:
    assert rule.kind_for("TimestampOutOfBounds") == "metering_timestamp_out_of_bounds"
    assert rule.kind_for("DuplicateRecord") == "metering_duplicate_record"
