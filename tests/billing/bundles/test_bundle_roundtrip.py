"""Export → import into a fresh database → export gives the same document, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select

from billing.bundles import BALANCING_PREFIX, collect_bundle, load_bundle
from billing.db import transaction
from billing.models import Discrepancy, MeteringResult, UsageRecord
from tests.tools.case_world import World, wipe


def _roundtrip(engine: Engine, exception_id: int) -> tuple[dict, dict, int]:
    with transaction(engine) as session:
        original = collect_bundle(session, exception_id)
    wipe(engine)
    with transaction(engine) as session:
        new_id = load_bundle(session, original)
    with transaction(engine) as session:
        again = collect_bundle(session, new_id)
    return original.model_dump(mode="json"), again.model_dump(mode="json"), new_id


def test_usage_case_round_trips_to_the_same_document(engine: Engine, world: World) -> None:
    """Daily sums, boundary hours, the gap hour the details name, metering counts: all survive."""
    before, after, new_id = _roundtrip(engine, world.case_id)
    assert after == before
    # The document is not trivially empty: the parts the round trip has to rebuild are there.
    assert len(before["usage"]["daily"]) == 7 and len(before["usage"]["hourly"]) == 15
    assert {c["status"] for c in before["metering"]["status_counts"]} == {"Success", "Unprocessed", "DuplicateRecord"}
    with transaction(engine) as session:
        assert session.get(Discrepancy, new_id).source == "import"


def test_money_case_round_trips_to_the_same_document(engine: Engine, world: World) -> None:
    before, after, _ = _roundtrip(engine, world.money_case_id)
    assert after == before
    assert {e["billing_event_id"] for e in before["billing_events"]} >= {"be-acme-gross", "be-acme-disb", "be-payout-1"}
    assert before["payments"] and before["invoices"] and before["refund_requests"] and before["credit_notes"]


def test_balancing_rows_are_tagged_and_stay_out_of_the_hours_shown(engine: Engine, world: World) -> None:
    """The importer completes daily sums with one tagged row per day, never at an hour the bundle lists."""
    with transaction(engine) as session:
        original = collect_bundle(session, world.case_id)
    shown = {h.usage_hour for h in original.usage.hourly}
    wipe(engine)
    with transaction(engine) as session:
        load_bundle(session, original)
        balancing = session.scalars(select(UsageRecord).where(
            UsageRecord.source_record_id.like(f"{BALANCING_PREFIX}%"))).all()
        synthetic_success = session.scalar(select(func.count()).select_from(MeteringResult).where(
            MeteringResult.metering_record_id.like(f"{BALANCING_PREFIX}%")))
    assert balancing and not {b.usage_hour for b in balancing} & shown
    # October 1st is listed hour by hour only for 00–05: its other 18 hours come back as one row.
    oct1 = [b for b in balancing if b.usage_hour.date().isoformat() == "2026-10-01" and b.dimension_key == "api_calls"]
    assert [b.quantity for b in oct1] == [sum(10 + h for h in range(6, 24))]
    success = next(c for c in original.metering.status_counts if c.status == "Success")
    assert synthetic_success == success.records


def test_importing_twice_changes_nothing(engine: Engine, world: World) -> None:
    with transaction(engine) as session:
        original = collect_bundle(session, world.case_id)
    wipe(engine)
    for _ in range(2):
        with transaction(engine) as session:
            load_bundle(session, original)
    with transaction(engine) as session:
        counts = (session.scalar(select(func.count()).select_from(UsageRecord)),
                  session.scalar(select(func.count()).select_from(MeteringResult)),
                  session.scalar(select(func.count()).select_from(Discrepancy)))
        again = collect_bundle(session, session.scalar(select(Discrepancy.id).where(
            Discrepancy.natural_key == original.exception.natural_key)))
    assert again.model_dump(mode="json") == original.model_dump(mode="json")
    assert counts[2] == 1 + len(original.history)


def test_import_into_a_database_that_already_holds_the_case(engine: Engine, world: World) -> None:
    """Importing a case over the database it came from updates nothing and adds no balancing rows."""
    with transaction(engine) as session:
        original = collect_bundle(session, world.case_id)
        before = session.scalar(select(func.count()).select_from(UsageRecord))
    with transaction(engine) as session:
        assert load_bundle(session, original) == world.case_id
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(UsageRecord)) == before
        assert session.get(Discrepancy, world.case_id).source == "reconcile"  # it existed: updated, not re-created
        assert collect_bundle(session, world.case_id).model_dump(mode="json") == original.model_dump(mode="json")


def test_history_entries_become_stub_exceptions_without_overwriting_richer_ones(engine: Engine, world: World) -> None:
    with transaction(engine) as session:
        original = collect_bundle(session, world.case_id)
        money = collect_bundle(session, world.money_case_id)
    wipe(engine)
    with transaction(engine) as session:
        load_bundle(session, money)  # the full money case first...
        load_bundle(session, original)  # ...then a case that lists it only in its history
    with transaction(engine) as session:
        row = session.scalar(select(Discrepancy).where(Discrepancy.natural_key == money.exception.natural_key))
        assert row.record_refs == money.exception.record_refs
        assert row.first_seen_at - money.exception.first_seen_at < timedelta(seconds=1)
