"""From a run's case results to its metrics (`RunMetrics`), using the pure functions of `evals.metrics`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, get_args

from pydantic import BaseModel, Field

from billing.bundles.labels import CategoryLabel
from evals import metrics as m
from evals.results import CaseResult

#: Categories in the taxonomy's order (DOMAIN.md), so tables and plots read the same every run.
CATEGORY_ORDER: tuple[str, ...] = get_args(CategoryLabel)
#: The precision auto-routed decisions should reach; the report recommends a threshold for it.
TARGET_PRECISION = 0.95
#: The keys of the one-line JSON summary (`triage eval --json`), in print order.
HEADLINE = (
    "cases", "failed", "accuracy", "macro_f1", "must_see_recall", "human_precision", "auto_rate",
    "action_accuracy", "escalation_accuracy", "ece", "brier", "invented_numbers", "drafts_faithful",
    "sop_cited", "llm_calls_per_case", "input_tokens_per_case", "output_tokens_per_case", "dollars",
    "latency_p50_ms", "latency_p95_ms",
)


class ThresholdRecommendation(BaseModel):
    """A confidence threshold for auto-routing that reaches the target precision — advice only."""

    target_precision: float
    current_threshold: float
    threshold: float | None  # None: no threshold reaches the target on these cases
    precision: float | None
    auto_cases: int | None  # cases that threshold would leave to auto-routing
    auto_rate: float | None
    candidates: int  # cases auto-routed, or sent to a person for low confidence alone
    note: str


class RunMetrics(BaseModel):
    """Every figure of a run. Ratios are 0..1; None means there was nothing to score."""

    cases: int
    failed: int
    accuracy: float | None
    accuracy_any_cause: float | None  # the second cause a case may carry counts as right too
    macro_f1: float | None
    per_category: dict[str, dict[str, float | int]]
    confusion_labels: list[str]
    confusion_columns: list[str]
    confusion: list[list[int]]
    must_see_cases: int
    must_see_missed: int
    must_see_recall: float | None
    human_precision: float | None
    auto_rate: float | None
    route_accuracy: float | None
    action_accuracy: float | None
    escalation_accuracy: float | None
    ece: float | None
    brier: float | None
    reliability: list[dict[str, float | int | None]]
    coverage: list[dict[str, float | int]]
    threshold: ThresholdRecommendation
    drafts: int
    invented_numbers: int  # drafts with an amount or id the evidence does not hold
    drafts_faithful: float | None  # share of drafts with nothing unsupported (amounts, ids, dates, addresses)
    sop_cited: float | None  # share of drafts citing SOP steps, all of them retrieved passages
    llm_calls: int
    llm_calls_per_case: float | None
    input_tokens: int
    output_tokens: int
    input_tokens_per_case: float | None
    output_tokens_per_case: float | None
    dollars: str | None  # exact decimal text; None when a model used has no price in the settings
    unpriced_models: list[str] = Field(default_factory=list)
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    load_p50_ms: float | None

    def headline(self) -> dict[str, Any]:
        """The figures `--json` prints and the gate checks, rounded for reading."""
        data = self.model_dump()
        return {key: _rounded(data[key]) for key in HEADLINE}


def _rounded(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def _ratio(total: int, cases: int) -> float | None:
    return total / cases if cases else None


def decision_correct(result: CaseResult) -> bool:
    """The proposal is right: category, and action where the case is labelled with one."""
    expected_action = result.expected.action
    return result.category_correct and (expected_action is None or result.predicted.action == expected_action)


def _low_confidence_only(result: CaseResult) -> bool:
    reasons = result.predicted.route_reasons
    return result.predicted.route == "human" and bool(reasons) and all(r.startswith("confidence ") for r in reasons)


def recommend_threshold(results: Sequence[CaseResult], current: float,
                        target: float = TARGET_PRECISION) -> ThresholdRecommendation:
    """The lowest threshold at which auto-routed proposals are right `target` of the time.

    The candidates are the cases the policy auto-routed and those it sent to a person for low
    confidence alone (a lower threshold would auto-route them); other reasons to see a person
    (materiality, approval categories, suspicious text, failed checks) are not the threshold's to
    change. "Right" is `decision_correct`."""
    pool = [r for r in results if r.predicted.confidence is not None
            and (r.predicted.route == "auto" or _low_confidence_only(r))]
    pick = m.threshold_for_precision([r.predicted.confidence or 0.0 for r in pool],
                                     [decision_correct(r) for r in pool], target)
    if pick is None:
        note = (f"no confidence threshold makes auto-routed proposals right {target:.0%} of the time on "
                f"these {len(pool)} candidate cases")
        return ThresholdRecommendation(target_precision=target, current_threshold=current, threshold=None,
                                       precision=None, auto_cases=None, auto_rate=None, candidates=len(pool), note=note)
    rate = pick.kept / len(results) if results else None
    direction = "keeps" if abs(pick.threshold - current) < 1e-9 else ("raises" if pick.threshold > current else "lowers")
    note = (f"a threshold of {pick.threshold:.2f} ({direction} the configured {current:.2f}) auto-routes {pick.kept} "
            f"case(s), right {pick.precision:.1%} of the time; recommendation only — "
            f"set TRIAGE_ROUTING__CONFIDENCE_THRESHOLD to apply it")
    return ThresholdRecommendation(target_precision=target, current_threshold=current, threshold=pick.threshold,
                                   precision=pick.precision, auto_cases=pick.kept, auto_rate=rate,
                                   candidates=len(pool), note=note)


def score_run(results: Sequence[CaseResult], *, prices: Mapping[str, tuple[Decimal, Decimal]],
              confidence_threshold: float, target_precision: float = TARGET_PRECISION) -> RunMetrics:
    """Every metric of a run from its case results."""
    n = len(results)
    truth = [r.expected.category for r in results]
    predicted = [r.predicted.category for r in results]
    labels = m.class_labels(truth, predicted, CATEGORY_ORDER)
    classes = m.per_class(truth, predicted, labels)
    any_cause = [r.predicted.category in (r.expected.category, r.expected.second_category)
                 and r.predicted.category is not None for r in results]

    expected_routes = [r.expected.route for r in results]
    routes = [r.predicted.route for r in results]

    scored = [r for r in results if r.predicted.confidence is not None]
    confidences = [r.predicted.confidence or 0.0 for r in scored]
    correct = [r.category_correct for r in scored]

    drafts = [r.draft for r in results if r.draft is not None]
    calls = sum(r.llm_calls for r in results)
    tokens_in = sum(r.input_tokens for r in results)
    tokens_out = sum(r.output_tokens for r in results)
    cost, unpriced = _cost(results, prices)

    return RunMetrics(
        cases=n,
        failed=sum(r.predicted.status == "failed" for r in results),
        accuracy=m.accuracy(truth, predicted),
        accuracy_any_cause=_ratio(sum(any_cause), n),
        macro_f1=m.macro_f1(truth, predicted, labels),
        per_category={label: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support,
                              "predicted": s.predicted} for label, s in classes.items()},
        confusion_labels=labels,
        confusion_columns=[*labels, m.NO_PREDICTION],
        confusion=m.confusion_matrix(truth, predicted, labels),
        must_see_cases=sum(r.must_see for r in results),
        must_see_missed=sum(r.missed_must_see for r in results),
        must_see_recall=m.must_see_recall(expected_routes, routes),
        human_precision=m.human_precision(expected_routes, routes),
        auto_rate=m.auto_rate(routes),
        route_accuracy=m.labelled_accuracy(expected_routes, routes),
        action_accuracy=m.labelled_accuracy([r.expected.action for r in results], [r.predicted.action for r in results]),
        escalation_accuracy=m.labelled_accuracy([r.expected.escalate_to for r in results],
                                                [r.predicted.escalate_to for r in results]),
        ece=m.expected_calibration_error(confidences, correct),
        brier=m.brier_score(confidences, correct),
        reliability=[b.__dict__ for b in m.reliability_bins(confidences, correct)],
        coverage=[p.__dict__ for p in m.coverage_curve(confidences, correct)],
        threshold=recommend_threshold(results, confidence_threshold, target_precision),
        drafts=len(drafts),
        invented_numbers=sum(d.invented_number for d in drafts),
        drafts_faithful=_ratio(sum(d.faithful for d in drafts), len(drafts)),
        sop_cited=_ratio(sum(d.sop_cited for d in drafts), len(drafts)),
        llm_calls=calls,
        llm_calls_per_case=_ratio(calls, n),
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        input_tokens_per_case=_ratio(tokens_in, n),
        output_tokens_per_case=_ratio(tokens_out, n),
        dollars=None if cost is None else format(cost.quantize(Decimal("0.000001")), "f"),
        unpriced_models=unpriced,
        latency_p50_ms=m.percentile([r.wall_ms for r in results], 0.50),
        latency_p95_ms=m.percentile([r.wall_ms for r in results], 0.95),
        load_p50_ms=m.percentile([r.load_ms for r in results], 0.50),
    )


def _cost(results: Sequence[CaseResult],
          prices: Mapping[str, tuple[Decimal, Decimal]]) -> tuple[Decimal | None, list[str]]:
    # Each case is priced at the model that answered it; a case without LLM calls costs nothing.
    total = Decimal(0)
    unpriced: set[str] = set()
    for r in results:
        if not r.llm_calls and not (r.input_tokens or r.output_tokens):
            continue
        cost = m.dollars(r.input_tokens, r.output_tokens, prices.get(r.model))
        if cost is None:
            unpriced.add(r.model or "(unknown model)")
        else:
            total += cost
    return (None if unpriced else total), sorted(unpriced)
