"""Usage and metering tools on the world of `case_world` (October 2026, ACME, api_calls)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine

from tests.tools.case_world import World
from tools import ToolContext, get_metering_results, get_usage_summary, read_only_session


def _utc(day: int, hour: int, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def test_usage_totals_compare_ours_with_the_partners_feed(engine: Engine, world: World) -> None:
    """Ours in October: Oct 1 (10..33) + Oct 15 (12) + Oct 20 (8) + Oct 31 18–23h (123) = 659;
    the partner's feed has 516 + 12 + 8 + 60 = 596."""
    with read_only_session(engine) as session:
        summary = get_usage_summary(ToolContext.for_exception(session, world.case_id))
    api = next(t for t in summary.totals if t.dimension_key == "api_calls")
    assert (api.ours, api.partner, api.difference) == (Decimal(659), Decimal(596), Decimal(-63))
    storage = next(t for t in summary.totals if t.dimension_key == "storage_gb")
    assert (storage.ours, storage.partner) == (Decimal("3.75"), Decimal(0))


def test_daily_rows_show_the_boundary_days_and_the_days_that_differ(engine: Engine, world: World) -> None:
    """AWS cuts periods at 00:00 UTC (DOMAIN.md): the late hours of Oct 31 show up on the partner's
    Nov 1, so both boundary days are always listed; a mid-month day that agrees is not."""
    with read_only_session(engine) as session:
        ctx = ToolContext.for_exception(session, world.case_id)
        summary = get_usage_summary(ctx, dimension_key="api_calls")
        everything = get_usage_summary(ctx, dimension_key="api_calls", all_days=True)
    days = {d.usage_date: d for d in summary.daily}
    assert set(days) == {date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 15), date(2026, 10, 31),
                         date(2026, 11, 1)}  # Oct 15 is named by the exception's gap hour
    assert (days[date(2026, 10, 31)].difference, days[date(2026, 11, 1)].difference) == (Decimal(-63), Decimal(123))
    assert days[date(2026, 10, 31)].partner_row_ids == ["uf-111122223333-api_calls-20261031-us-east-1"]
    assert days[date(2026, 10, 31)].partner_rates == [Decimal("0.002")]
    assert summary.days_agreeing_omitted == 1 and len(everything.daily) == 6  # Oct 20 agrees: 8 = 8


def test_hourly_rows_cover_both_period_boundaries_and_the_hours_the_exception_names(
        engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        ctx = ToolContext.for_exception(session, world.case_id)
        summary = get_usage_summary(ctx, granularity="hour", dimension_key="api_calls")
        wider = get_usage_summary(ctx, granularity="hour", dimension_key="api_calls", boundary_hours=2)
    hours = [h.usage_hour for h in summary.ours_hourly]
    assert hours == [*(_utc(1, h) for h in range(6)), _utc(15, 3), *(_utc(31, h) for h in range(18, 24))]
    assert summary.daily == [] and _utc(15, 3) in summary.hours_named_by_exception
    assert [h.usage_hour for h in wider.ours_hourly] == [_utc(1, 0), _utc(1, 1), _utc(15, 3), _utc(31, 22), _utc(31, 23)]
    assert summary.ours_hourly[0].id == "u-ACME-0001-api_calls-2026100100"


def test_metering_counts_per_status_and_the_records_not_accepted(engine: Engine, world: World) -> None:
    """BatchMeterUsage answers Success, CustomerNotSubscribed or DuplicateRecord per record, and lists
    UnprocessedRecords to retry (DOMAIN.md); Oct 31 22h and 23h were never processed."""
    with read_only_session(engine) as session:
        result = get_metering_results(ToolContext.for_exception(session, world.case_id))
    counts = {c.status: c for c in result.status_counts}
    assert (counts["Success"].records, counts["Success"].quantity) == (31, Decimal(614))
    assert (counts["Unprocessed"].records, counts["Unprocessed"].quantity) == (2, Decimal(45))
    assert (counts["Unprocessed"].first_timestamp, counts["Unprocessed"].last_timestamp) == (_utc(31, 22), _utc(31, 23))
    assert [(r.status, r.timestamp) for r in result.not_accepted] == [
        ("DuplicateRecord", _utc(1, 5)), ("Unprocessed", _utc(31, 22)), ("Unprocessed", _utc(31, 23))]
    assert not result.truncated
