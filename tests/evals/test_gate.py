"""The CI gate: the offline backend's eval on the curated and the generated sets must meet the
thresholds kept in `evals/thresholds.yaml` (issue 5's targets: on curated, accuracy ≥ 0.85,
macro-F1 ≥ 0.80, every must-see case reaching a person, ECE ≤ 0.10, no invented number in a
draft; on generated, accuracy ≥ 0.95). The development set of imported exceptions guards
the path for rules we do not know: every must-see case among them reaches a person.

Each set runs through the real graph with the real offline backend and SOP retriever, one
fresh database per case. The figures are printed in pytest's terminal summary whether the gate
passes or not (no ``-s`` needed), with the folder of the stored run and its report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.llm.factory import make_backend
from billing.settings import Settings
from evals.gate import SetThresholds, check_thresholds, load_thresholds, missed_targets
from evals.runner import eval_settings, run_eval, sop_retriever
from evals.store import EvalRun, save_run
from tests.evals.gate_summary import record_gate_line

SETS = ("curated", "generated", "dev_imported")


@pytest.fixture(scope="module")
def thresholds() -> dict[str, SetThresholds]:
    return load_thresholds()


@pytest.fixture(scope="module")
def evaluate(eval_index_settings: Settings, tmp_path_factory: pytest.TempPathFactory,
             thresholds: dict[str, SetThresholds]) -> Callable[[str], tuple[EvalRun, Path]]:
    """Runs a set once (the backend's case library and the SOP index are built once for both)."""
    settings = eval_settings(eval_index_settings, "offline")
    backend, retriever = make_backend(settings), sop_retriever(settings)
    runs_dir = tmp_path_factory.mktemp("eval-runs")
    done: dict[str, tuple[EvalRun, Path]] = {}

    def run(name: str) -> tuple[EvalRun, Path]:
        if name not in done:
            result = run_eval(thresholds[name].cases, settings=settings, agent_backend=backend, retriever=retriever)
            done[name] = (result, save_run(result, runs_dir))
        return done[name]

    return run


@pytest.mark.parametrize("name", SETS)
def test_the_offline_backend_meets_the_thresholds(name: str, evaluate: Callable[[str], tuple[EvalRun, Path]],
                                                  thresholds: dict[str, SetThresholds],
                                                  request: pytest.FixtureRequest) -> None:
    try:
        run, folder = evaluate(name)
    except Exception as exc:  # an unreadable set fails the gate too; say so in the summary
        record_gate_line(request.config, f"{name}: FAIL: cannot run: {type(exc).__name__}: {exc}")
        raise
    headline = run.metrics.headline()
    failures = check_thresholds(headline, thresholds[name])
    shown = ("cases", "accuracy", "macro_f1", "must_see_recall", "auto_rate", "ece", "invented_numbers",
             "action_accuracy", "escalation_accuracy", "llm_calls_per_case", "latency_p50_ms")
    figures = " · ".join(f"{key} {headline[key]}" for key in shown)
    verdict = "PASS" if not failures else "FAIL: " + "; ".join(str(f) for f in failures)
    record_gate_line(request.config, f"{name}: {verdict}")
    record_gate_line(request.config, f"  {figures}")
    for line in missed_targets(headline, thresholds[name]):
        record_gate_line(request.config, f"  {line}")
    record_gate_line(request.config, f"  report: {folder / 'report.md'}")
    assert not failures, f"{name}: " + "; ".join(str(f) for f in failures) + f" (report: {folder / 'report.md'})"
