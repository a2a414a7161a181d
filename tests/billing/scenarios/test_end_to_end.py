"""Generate → ingest_folder → reconcile → match_truth, on SQLite and on PostgreSQL.

The generator's files must load through the real ingest adapters, and reconciliation must
raise an exception for every non-benign fault (a miss) and none that no fault explains (a
false alarm). Counts are printed (`pytest -s`) so a regression shows which side moved."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from billing.db import transaction
from billing.ingest import ingest_folder
from billing.reconcile.run import reconcile
from billing.scenarios import ScenarioSummary, generate_scenario, read_truth
from billing.scenarios.truth import TruthMatch, match_truth


def _run(engine: Engine, summary: ScenarioSummary) -> TruthMatch:
    reports = ingest_folder(engine, summary.out)
    assert all(r.rows_rejected == 0 for r in reports)
    assert {Path(r.filename).name for r in reports} >= {
        "contracts.yaml",
        "usage.csv",
        "billing-events.csv",
    }
    reconcile(
        engine, as_of=summary.as_of
    )  # the scenario's run date: every payout due by then is in the files
    with transaction(engine) as session:
        result = match_truth(session, read_truth(summary.out / "truth.jsonl"))
    print(f"\n{summary.out.name}: {result.summary()}")
    return result


def test_every_fault_is_found_and_every_exception_explained(
    engine: Engine, small_scenario: ScenarioSummary
) -> None:
    result = _run(engine, small_scenario)
    missed = [
        f"{t.fault_id} {t.category} {t.account_key} {t.period}"
        for t in result.misses
        if not t.benign
    ]
    assert missed == []
    assert [f"{e.rule}/{e.kind} {e.account_key} {e.period}" for e in result.false_alarms] == []
    assert len(result.found()) == small_scenario.truth_lines


def test_a_scenario_without_faults_raises_nothing(engine: Engine, tmp_path: Path) -> None:
    """Clean data across every channel: usage, metering, partner feed, fees, tax, payouts, FX all agree."""
    summary = generate_scenario(31, 10, 2, "2026-10", tmp_path / "clean", fault_rate=0.0)
    result = _run(engine, summary)
    assert result.summary()["exceptions"] == 0, [
        f"{e.rule}/{e.kind} {e.account_key}" for e in result.false_alarms
    ]
