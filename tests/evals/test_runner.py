"""The eval runner: each case in a fresh database, through the real graph, the labels hidden from
the agent, scored against them. A spy backend (`fakes.SpyBackend`) stands in for the model so
these tests see exactly what a backend is given; the gate test runs the real offline backend."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billing.settings import LLMSettings, Settings
from evals.case_set import CaseSetError
from evals.leakage import LeakageError
from evals.manifest import CaseSetManifest, write_manifest
from evals.runner import EvalConfigError, eval_settings, run_eval
from tests.evals.fakes import SpyBackend, no_passages

UNAPPLIED = "direct_payments:unapplied_cash:2026-08:19:PAY-000001"
SHORT_PAID = "direct_payments:short_paid:2026-08:14:INV-202608-00007"
FORGIVEN = "forgiven_charges:charge_forgiven:2026-07:10:3800953017:USD"


def _settings(**llm: object) -> Settings:
    return Settings(database_url="sqlite://", checkpoint_url="memory://", llm=LLMSettings(**llm))  # type: ignore[arg-type]


def _copy_cases(source: Path, target: Path, edit: object = None) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for i, file in enumerate(sorted(source.glob("*.json"))):
        data = json.loads(file.read_text())
        if callable(edit):
            edit(i, data)
        (target / file.name).write_text(json.dumps(data))
    return target


def test_the_agent_never_sees_the_expected_labels(fixture_cases: Path, tmp_path: Path) -> None:
    """A sentinel written into every label never reaches the backend; the results still carry it."""
    def mark(i: int, data: dict[str, Any]) -> None:
        data["expected"]["why"] = f"SENTINEL-LABEL-{i}"
        data["expected"]["fault_id"] = f"SENTINEL-FAULT-{i}"

    cases = _copy_cases(fixture_cases, tmp_path / "cases", mark)
    spy = SpyBackend()
    run = run_eval(cases, agent_backend=spy, retriever=no_passages, settings=_settings())
    assert len(spy.seen) == 3
    for seen in spy.seen:
        assert "SENTINEL" not in seen.model_dump_json()
    assert sorted(r.expected.why or "" for r in run.results) == [f"SENTINEL-LABEL-{i}" for i in range(3)]


def test_each_case_runs_in_a_database_of_its_own(fixture_cases: Path) -> None:
    """Every case is the first exception of its database: nothing another case loaded is there."""
    spy = SpyBackend()
    run_eval(fixture_cases, agent_backend=spy, retriever=no_passages, settings=_settings())
    assert [seen.exception["id"] for seen in spy.seen] == [1, 1, 1]
    assert len({seen.exception["rule"] + seen.exception["kind"] for seen in spy.seen}) == 3


def test_a_case_for_a_person_stops_at_review_and_is_scored_human(fixture_cases: Path) -> None:
    """Unapplied cash of USD 23,141.86 is above the USD 10,000 materiality (DESIGN.md routing):
    the case stops at the review interrupt, is not resumed, and counts as reaching a person."""
    run = run_eval(fixture_cases, agent_backend=SpyBackend(), retriever=no_passages, settings=_settings())
    by_id = {r.case_id: r for r in run.results}
    assert by_id[UNAPPLIED].predicted.status == "waiting_review"
    assert by_id[UNAPPLIED].predicted.route == "human"
    assert any("materiality" in reason for reason in by_id[UNAPPLIED].predicted.route_reasons)
    assert by_id[FORGIVEN].predicted.status == "triaged" and by_id[FORGIVEN].predicted.route == "auto"


def test_the_run_is_scored_against_the_labels(fixture_cases: Path) -> None:
    """The spy decides by the rule's first candidate: short payment for both direct-payment cases
    (right for one; the unapplied cash is labelled `other`), forgiven charge for the forgiven one.
    Accuracy 2/3; the one must-see case reached a person; two of three were auto-routed."""
    run = run_eval(fixture_cases, agent_backend=SpyBackend(), retriever=no_passages, settings=_settings())
    assert [r.case_id for r in run.results] == [SHORT_PAID, UNAPPLIED, FORGIVEN]  # sorted by case id
    assert [r.predicted.category for r in run.results] == ["short_payment", "short_payment", "forgiven_charge"]
    m = run.metrics
    assert (m.cases, m.failed) == (3, 0)
    assert m.accuracy == pytest.approx(2 / 3)
    assert (m.must_see_cases, m.must_see_missed, m.must_see_recall) == (1, 0, 1.0)
    assert m.auto_rate == pytest.approx(2 / 3)
    assert m.invented_numbers == 0 and m.drafts == 3


def test_the_run_is_identified(fixture_cases: Path) -> None:
    run = run_eval(fixture_cases, agent_backend=SpyBackend(), retriever=no_passages, settings=_settings())
    ident = run.identity
    assert (ident.backend, ident.model, ident.prompt_version) == ("spy", "spy-1", "spy-prompts-1")
    assert len(ident.case_set_hash) == 64 and len(ident.sop_index_version) == 64
    assert ident.code_version.commit and ident.run_id.split("-")[2] == "spy"
    assert ident.case_set_seeds is None  # a hand-made set states no seeds


def test_an_invented_amount_in_a_draft_is_counted(fixture_cases: Path) -> None:
    """A draft stating USD 98,765.43, found nowhere in the evidence: verify asks for one repair
    (which this spy botches), the case goes to a person, and the eval counts the draft."""
    spy = SpyBackend(amount_in_draft="98,765.43")
    run = run_eval(fixture_cases, agent_backend=spy, retriever=no_passages, settings=_settings())
    assert spy.repairs == 3
    assert run.metrics.invented_numbers == 3
    assert all(r.draft is not None and r.draft.invented_amounts == ["USD 98,765.43"] for r in run.results)
    assert all(r.predicted.route == "human" for r in run.results)


def test_cost_comes_from_the_token_counts_and_the_price_table(fixture_cases: Path) -> None:
    """Two calls a case (classify, draft), 1,000 input and 200 output tokens each, at USD 1 / 2 per
    million: 3 cases × 2 × (1,000 × 1 + 200 × 2) / 1e6 = USD 0.0084."""
    spy = SpyBackend(tokens=(1000, 200))
    priced = _settings(prices_per_mtok={"spy-1": (Decimal(1), Decimal(2))})
    run = run_eval(fixture_cases, agent_backend=spy, retriever=no_passages, settings=priced)
    m = run.metrics
    assert (m.llm_calls, m.llm_calls_per_case, m.input_tokens, m.output_tokens) == (6, 2.0, 6000, 1200)
    assert m.dollars == "0.008400"
    unpriced = run_eval(fixture_cases, agent_backend=SpyBackend(tokens=(1000, 200)), retriever=no_passages,
                        settings=_settings(prices_per_mtok={}))
    assert unpriced.metrics.dollars is None and unpriced.metrics.unpriced_models == ["spy-1"]


def test_concurrent_cases_give_the_same_results_in_the_same_order(fixture_cases: Path) -> None:
    one = run_eval(fixture_cases, agent_backend=SpyBackend(), retriever=no_passages, settings=_settings())
    two = run_eval(fixture_cases, agent_backend=SpyBackend(), retriever=no_passages, settings=_settings(),
                   concurrency=2)
    assert [(r.case_id, r.predicted.category, r.predicted.route) for r in one.results] == \
        [(r.case_id, r.predicted.category, r.predicted.route) for r in two.results]


def test_a_set_built_from_a_library_seed_is_refused_before_any_case_runs(fixture_cases: Path, tmp_path: Path) -> None:
    """Seed 9001 built the offline backend's case library (`LIBRARY_SEEDS`): scoring on it would
    measure memory."""
    from evals.case_set import load_case_set

    cases = _copy_cases(fixture_cases, tmp_path / "cases")
    write_manifest(cases / "manifest.json", CaseSetManifest(
        generator_version="1", seeds=[9001], accounts=20, months=2, start="2026-07", fault_rate=0.5,
        per_category_cap=16, cases=3, case_set_hash=load_case_set(cases).hash, by_category={}, files=[]))
    spy = SpyBackend()
    with pytest.raises(LeakageError, match=r"seeds \[9001\]"):
        run_eval(cases, agent_backend=spy, retriever=no_passages, settings=_settings())
    assert spy.seen == []


def test_a_bundle_that_cannot_be_loaded_is_named_with_its_json_path(fixture_cases: Path, tmp_path: Path) -> None:
    def break_contract(i: int, data: dict[str, Any]) -> None:
        if i == 1:
            data["contracts"][0]["account_key"] = "NOBODY-0000"

    cases = _copy_cases(fixture_cases, tmp_path / "cases", break_contract)
    with pytest.raises(CaseSetError, match=r"unapplied_cash.*\.json: \$\.contracts\[0\]\.account_key: .*NOBODY-0000"):
        run_eval(cases, agent_backend=SpyBackend(), retriever=no_passages, settings=_settings())


def test_the_openai_backend_needs_a_key_or_a_server() -> None:
    with pytest.raises(EvalConfigError, match="OPENAI_API_KEY"):
        eval_settings(_settings(api_key=None, base_url=None), "openai")
    chosen = eval_settings(_settings(base_url="http://127.0.0.1:8011/v1"), "openai", "local-model")
    assert (chosen.llm.backend, chosen.llm.model, chosen.checkpoint_url) == ("openai", "local-model", "memory://")
