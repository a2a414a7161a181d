"""Stored runs, their reports and plots, and the comparison of two runs (hand-made results)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from evals.compare import compare_runs, metric_delta
from evals.identity import CodeVersion, RunIdentity
from evals.plots import CONFUSION_PNG, COVERAGE_PNG, RELIABILITY_PNG
from evals.report import markdown_report, worst_cases
from evals.results import CaseResult, DraftCheck
from evals.scoring import score_run
from evals.store import EvalRun, RunNotFound, list_runs, load_run, run_folder, save_run
from tests.evals.factories import result

PNG = b"\x89PNG\r\n\x1a\n"


def make_run(run_id: str, results: list[CaseResult]) -> EvalRun:
    identity = RunIdentity(
        run_id=run_id, created_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC), backend="offline", model="m",
        prompt_version="p1", sop_index_version="a" * 64, code_version=CodeVersion(commit="b" * 40, dirty=False),
        case_set_path="cases", case_set_hash="c" * 64, case_set_seeds=None, confidence_threshold=0.8,
        materiality_usd="10000", concurrency=1)
    return EvalRun(identity=identity, metrics=score_run(results, prices={}, confidence_threshold=0.8),
                   results=results)


def baseline_results() -> list[CaseResult]:
    return [result("fixed", "fx_variance", "timing_difference", confidence=0.6),
            result("broken", "short_payment", "short_payment", confidence=0.9),
            result("missed", "tax_discrepancy", "tax_discrepancy", route="auto", expected_route="human"),
            result("steady", "forgiven_charge", "forgiven_charge")]


def current_results() -> list[CaseResult]:
    invented = DraftCheck(kind="email", to="x", subject="s", body="USD 7.00 <b>bold</b>", invented_amounts=["USD 7.00"])
    return [result("fixed", "fx_variance", "fx_variance", confidence=0.7),
            result("broken", "short_payment", "listing_fee_mismatch", confidence=0.95),
            result("missed", "tax_discrepancy", "tax_discrepancy", route="human", expected_route="human"),
            result("steady", "forgiven_charge", "forgiven_charge", draft=invented)]


def test_a_run_is_stored_with_reports_and_plots_and_read_back(tmp_path: Path) -> None:
    run = make_run("20261125-120000-offline-cccccccc-0001", current_results())
    folder = save_run(run, tmp_path)
    assert folder == tmp_path / run.identity.run_id
    for name in (CONFUSION_PNG, RELIABILITY_PNG, COVERAGE_PNG):
        assert (folder / name).read_bytes().startswith(PNG)
    assert {"run.json", "cases.jsonl", "report.md", "report.html"} <= {p.name for p in folder.iterdir()}
    assert load_run(run.identity.run_id, tmp_path) == run
    assert run_folder(folder / "run.json") == run_folder(folder) == folder
    assert list_runs(tmp_path) == [run.identity.run_id]
    assert not list(tmp_path.glob(".*partial"))
    html = (folder / "report.html").read_text()
    assert "<img src=\"confusion_matrix.png\"" in html and "<table>" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html  # draft text is data, escaped


def test_an_unknown_run_is_named(tmp_path: Path) -> None:
    with pytest.raises(RunNotFound, match="nope"):
        load_run("nope", tmp_path)


def test_worst_cases_come_missed_must_see_then_invented_then_confident_wrong() -> None:
    results = [result("wrong-human", "fx_variance", "short_payment", route="human", confidence=0.99),
               result("wrong-auto", "fx_variance", "short_payment", route="auto", confidence=0.5),
               result("invented", "fx_variance", "fx_variance", draft=DraftCheck(
                   kind="email", to="x", subject="s", body="b", invented_ids=["INV-1"])),
               result("missed", "tax_discrepancy", "tax_discrepancy", route="auto", expected_route="human"),
               result("fine", "fx_variance", "fx_variance")]
    assert [r.case_id for r in worst_cases(results)] == ["missed", "invented", "wrong-auto", "wrong-human"]


def test_the_report_lists_the_worst_cases_with_their_evidence() -> None:
    bad = result("missed", "tax_discrepancy", "tax_discrepancy", route="auto", expected_route="human",
                 evidence={"rule": "tax_treatment", "delta_amount": "12.50", "details": "{}", "tools": ["get_tax"],
                           "stake": {"amount": "12.50", "currency": "GBP", "usd": "15.80"}, "outside_text": []})
    text = markdown_report(make_run("r1", [bad, result("ok", "fx_variance", "fx_variance")]))
    assert "## Worst cases (1)" in text and "must reach a person but was routed auto" in text
    assert "| rule | tax_treatment |" in text and "**At stake:** 12.50 GBP (USD 15.80)" in text
    assert "**Tools that answered:** get_tax" in text


def test_compare_shows_deltas_and_flips_both_ways(tmp_path: Path) -> None:
    baseline, current = make_run("base", baseline_results()), make_run("new", current_results())
    c = compare_runs(baseline, current)
    assert c.same_case_set and c.shared_cases == 4
    assert [(f.case_id, f.what) for f in c.fixed] == [("fixed", "category"), ("missed", "must_see")]
    assert [(f.case_id, f.what, f.baseline, f.current) for f in c.broken] == [
        ("broken", "category", "short_payment", "listing_fee_mismatch")]
    deltas = {d.name: d for d in c.deltas}
    assert deltas["accuracy"].delta == pytest.approx(0.0) and deltas["accuracy"].verdict == "same"
    assert deltas["must_see_recall"].verdict == "better" and deltas["invented_numbers"].verdict == "worse"
    save_run(current, tmp_path, comparison=c)
    report = (tmp_path / "new" / "report.md").read_text()
    assert "## Compared with `base`" in report and "### Now wrong (were right): 1" in report
    assert (tmp_path / "new" / "comparison.json").is_file()


def test_metric_direction() -> None:
    assert metric_delta("ece", 0.2, 0.1).verdict == "better"
    assert metric_delta("accuracy", 0.9, 0.8).verdict == "worse"
    assert metric_delta("dollars", "0.10", "0.30").verdict == "worse"
    assert metric_delta("macro_f1", None, 0.8).verdict == "n/a"
