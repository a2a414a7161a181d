"""The scores of an eval, as pure functions over plain lists (no I/O, no agent imports).

Each function takes parallel sequences (one item per case) and returns plain numbers or small
frozen records, so that each can be checked against a hand-computed example. A prediction of
``None`` is a case the agent failed to decide: it counts as wrong everywhere and is never a
class of its own. A score over no cases is ``None`` (not 0, not 1: there is nothing to score).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

#: The column of the confusion matrix for cases that got no category (a failed triage).
NO_PREDICTION = "(none)"


# -- classification ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one category; `support` = cases truly of it."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


def accuracy(truth: Sequence[str], predicted: Sequence[str | None]) -> float | None:
    """Share of cases whose prediction equals the truth."""
    _same_length(truth, predicted)
    if not truth:
        return None
    return sum(t == p for t, p in zip(truth, predicted)) / len(truth)


def class_labels(truth: Sequence[str], predicted: Sequence[str | None], order: Sequence[str] = ()) -> list[str]:
    """Every category that is true or predicted at least once, in `order` first, then by name.

    This is the label set macro-F1 averages over (as scikit-learn does by default): a category
    the agent predicts but no case has still counts, with an F1 of 0."""
    seen = {*truth, *(p for p in predicted if p is not None)}
    rank = {label: i for i, label in enumerate(order)}
    return sorted(seen, key=lambda label: (rank.get(label, len(rank)), label))


def per_class(truth: Sequence[str], predicted: Sequence[str | None],
              labels: Sequence[str] | None = None) -> dict[str, ClassScores]:
    """Precision, recall and F1 per category; a ratio with nothing to divide by is 0."""
    _same_length(truth, predicted)
    scores: dict[str, ClassScores] = {}
    for label in labels if labels is not None else class_labels(truth, predicted):
        tp = sum(t == label and p == label for t, p in zip(truth, predicted))
        support = sum(t == label for t in truth)
        predicted_n = sum(p == label for p in predicted)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = ClassScores(precision, recall, f1, support, predicted_n)
    return scores


def macro_f1(truth: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str] | None = None) -> float | None:
    """The unweighted mean of the per-category F1 (every category counts the same)."""
    if not truth:
        return None
    scores = per_class(truth, predicted, labels)
    return sum(s.f1 for s in scores.values()) / len(scores) if scores else None


def confusion_matrix(truth: Sequence[str], predicted: Sequence[str | None],
                     labels: Sequence[str]) -> list[list[int]]:
    """Counts with rows = true category (`labels`), columns = predicted (`labels`, then
    `NO_PREDICTION`). A true category outside `labels` is not counted."""
    _same_length(truth, predicted)
    columns = {label: i for i, label in enumerate(labels)}
    none_column = len(labels)
    matrix = [[0] * (len(labels) + 1) for _ in labels]
    for t, p in zip(truth, predicted):
        if t not in columns:
            continue
        column = none_column if p is None else columns.get(p, none_column)
        matrix[columns[t]][column] += 1
    return matrix


# -- routing ---------------------------------------------------------------------------------


def must_see_recall(expected_routes: Sequence[str | None], routes: Sequence[str | None]) -> float | None:
    """Of the cases that must reach a person (expected route ``human``), the share routed ``human``.

    A failed case (route None) did not reach a person: it counts as missed."""
    _same_length(expected_routes, routes)
    must = [r for e, r in zip(expected_routes, routes) if e == "human"]
    return sum(r == "human" for r in must) / len(must) if must else None


def human_precision(expected_routes: Sequence[str | None], routes: Sequence[str | None]) -> float | None:
    """Of the labelled cases routed ``human``, the share that truly had to be (the rest is review load)."""
    _same_length(expected_routes, routes)
    sent = [e for e, r in zip(expected_routes, routes) if r == "human" and e is not None]
    return sum(e == "human" for e in sent) / len(sent) if sent else None


def auto_rate(routes: Sequence[str | None]) -> float | None:
    """The touchless rate: share of all cases routed ``auto``."""
    return sum(r == "auto" for r in routes) / len(routes) if routes else None


def labelled_accuracy(truth: Sequence[str | None], predicted: Sequence[str | None]) -> float | None:
    """Accuracy over the cases that carry this label (e.g. action, escalation target)."""
    pairs = [(t, p) for t, p in zip(truth, predicted, strict=True) if t is not None]
    return sum(t == p for t, p in pairs) / len(pairs) if pairs else None


# -- calibration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of a reliability diagram: confidences in (lower, upper] (the first bin includes 0)."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


def reliability_bins(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[CalibrationBin]:
    """Equal-width bins over [0, 1]; a confidence on an edge falls in the lower bin."""
    _same_length(confidences, correct)
    members: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for c, ok in zip(confidences, correct):
        # Rounded first: 0.7 * 10 is 7.000000000000001 in floating point, and 0.7 belongs to (0.6, 0.7].
        index = min(bins - 1, max(0, math.ceil(round(c * bins, 9)) - 1))
        members[index].append((c, ok))
    out = []
    for i, items in enumerate(members):
        mean = sum(c for c, _ in items) / len(items) if items else None
        acc = sum(ok for _, ok in items) / len(items) if items else None
        out.append(CalibrationBin(i / bins, (i + 1) / bins, len(items), mean, acc))
    return out


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float | None:
    """ECE: the case-weighted mean gap between confidence and accuracy over the bins."""
    if not confidences:
        return None
    total = len(confidences)
    return sum(b.count / total * abs((b.accuracy or 0.0) - (b.mean_confidence or 0.0))
               for b in reliability_bins(confidences, correct, bins) if b.count)


def brier_score(confidences: Sequence[float], correct: Sequence[bool]) -> float | None:
    """Mean squared gap between the confidence and the outcome (1 right, 0 wrong)."""
    _same_length(confidences, correct)
    if not confidences:
        return None
    return sum((c - float(ok)) ** 2 for c, ok in zip(confidences, correct)) / len(confidences)


@dataclass(frozen=True)
class CoveragePoint:
    """Keeping the cases with confidence ≥ `threshold`: the share kept and their accuracy."""

    threshold: float
    coverage: float
    accuracy: float
    kept: int


def coverage_curve(confidences: Sequence[float], correct: Sequence[bool]) -> list[CoveragePoint]:
    """Accuracy against coverage, one point per distinct confidence, most confident first."""
    _same_length(confidences, correct)
    total = len(confidences)
    points = []
    for threshold in sorted(set(confidences), reverse=True):
        kept = [ok for c, ok in zip(confidences, correct) if c >= threshold]
        points.append(CoveragePoint(threshold, len(kept) / total, sum(kept) / len(kept), len(kept)))
    return points


@dataclass(frozen=True)
class ThresholdPick:
    """The lowest confidence threshold whose kept cases reach the target precision."""

    target: float
    threshold: float
    precision: float
    kept: int
    candidates: int


def threshold_for_precision(confidences: Sequence[float], correct: Sequence[bool],
                            target: float) -> ThresholdPick | None:
    """Among candidate cases, the lowest threshold t (a confidence seen) such that the cases with
    confidence ≥ t are right at least `target` of the time — the most cases kept at that
    precision. None when no threshold reaches it."""
    best: ThresholdPick | None = None
    for point in coverage_curve(confidences, correct):  # thresholds from high to low
        if point.accuracy >= target:
            best = ThresholdPick(target, point.threshold, point.accuracy, point.kept, len(confidences))
    return best


# -- cost and latency ----------------------------------------------------------------------------


def dollars(input_tokens: int, output_tokens: int, price: tuple[Decimal, Decimal] | None) -> Decimal | None:
    """Cost in USD at (input, output) USD per million tokens; None when the model has no price."""
    if price is None:
        return None
    per_input, per_output = price
    return (Decimal(input_tokens) * per_input + Decimal(output_tokens) * per_output) / Decimal(1_000_000)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _same_length(a: Sequence[object], b: Sequence[object]) -> None:
    if len(a) != len(b):
        raise ValueError(f"parallel sequences differ in length: {len(a)} and {len(b)}")
