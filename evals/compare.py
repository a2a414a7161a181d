"""Two runs side by side: the delta of every headline metric, and the cases that flipped both ways."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from evals.results import CaseResult
from evals.scoring import HEADLINE
from evals.store import EvalRun

#: Metrics where less is better; for every other headline metric, more is better.
LOWER_IS_BETTER = frozenset({
    "failed", "ece", "brier", "invented_numbers", "llm_calls_per_case", "input_tokens_per_case",
    "output_tokens_per_case", "dollars", "latency_p50_ms", "latency_p95_ms",
})
#: Not a quality: a different count of cases is neither better nor worse.
NEUTRAL = frozenset({"cases"})


class MetricDelta(BaseModel):
    """One metric in both runs; `verdict` reads the delta in the metric's own direction."""

    name: str
    baseline: float | int | None
    current: float | int | None
    delta: float | None
    verdict: Literal["better", "worse", "same", "n/a"]


class Flip(BaseModel):
    """A case whose outcome changed between the runs."""

    case_id: str
    what: Literal["category", "must_see"]
    expected: str
    baseline: str | None
    current: str | None


class Comparison(BaseModel):
    """How the current run differs from the baseline."""

    baseline_run_id: str
    current_run_id: str
    same_case_set: bool
    shared_cases: int
    only_in_baseline: int
    only_in_current: int
    deltas: list[MetricDelta]
    fixed: list[Flip]  # wrong (or missed) in the baseline, right now
    broken: list[Flip]  # right in the baseline, wrong (or missed) now

    def summary(self) -> dict[str, Any]:
        """Compact deltas and flip counts for the one-line JSON output."""
        return {"baseline": self.baseline_run_id,
                "deltas": {d.name: None if d.delta is None else round(d.delta, 4) for d in self.deltas},
                "fixed": len(self.fixed), "broken": len(self.broken), "same_case_set": self.same_case_set}


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    return float(value) if isinstance(value, str) else value


def metric_delta(name: str, baseline: Any, current: Any) -> MetricDelta:
    """The change of one metric and whether it is for the better."""
    old, new = _number(baseline), _number(current)
    if old is None or new is None:
        return MetricDelta(name=name, baseline=old, current=new, delta=None, verdict="n/a")
    delta = float(new) - float(old)
    if abs(delta) < 1e-12 or name in NEUTRAL:
        verdict: Literal["better", "worse", "same", "n/a"] = "same" if abs(delta) < 1e-12 else "n/a"
    else:
        verdict = "better" if (delta < 0) == (name in LOWER_IS_BETTER) else "worse"
    return MetricDelta(name=name, baseline=old, current=new, delta=delta, verdict=verdict)


def _flips(old: CaseResult, new: CaseResult) -> tuple[list[Flip], list[Flip]]:
    fixed: list[Flip] = []
    broken: list[Flip] = []
    if old.category_correct != new.category_correct:
        flip = Flip(case_id=new.case_id, what="category", expected=new.expected.category,
                    baseline=old.predicted.category, current=new.predicted.category)
        (fixed if new.category_correct else broken).append(flip)
    if new.must_see and old.missed_must_see != new.missed_must_see:
        flip = Flip(case_id=new.case_id, what="must_see", expected="human",
                    baseline=old.predicted.route, current=new.predicted.route)
        (broken if new.missed_must_see else fixed).append(flip)
    return fixed, broken


def compare_runs(baseline: EvalRun, current: EvalRun) -> Comparison:
    """Per-metric deltas and the flipped cases (matched by case id) of `current` against `baseline`."""
    old_metrics, new_metrics = baseline.metrics.headline(), current.metrics.headline()
    deltas = [metric_delta(name, old_metrics.get(name), new_metrics.get(name)) for name in HEADLINE]
    old_cases = {r.case_id: r for r in baseline.results}
    new_cases = {r.case_id: r for r in current.results}
    fixed: list[Flip] = []
    broken: list[Flip] = []
    for case_id in sorted(old_cases.keys() & new_cases.keys()):
        f, b = _flips(old_cases[case_id], new_cases[case_id])
        fixed += f
        broken += b
    return Comparison(
        baseline_run_id=baseline.identity.run_id, current_run_id=current.identity.run_id,
        same_case_set=baseline.identity.case_set_hash == current.identity.case_set_hash,
        shared_cases=len(old_cases.keys() & new_cases.keys()),
        only_in_baseline=len(old_cases.keys() - new_cases.keys()),
        only_in_current=len(new_cases.keys() - old_cases.keys()),
        deltas=deltas, fixed=fixed, broken=broken,
    )
