"""The pure metric functions of `evals.metrics`, each against an example computed by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evals import metrics as m

# Six cases, three categories (a = dropped_metering, b = short_payment, c = timing_difference):
#   truth:     a a a b b c
#   predicted: a a b b c None
TRUTH = ["a", "a", "a", "b", "b", "c"]
PRED: list[str | None] = ["a", "a", "b", "b", "c", None]


def test_accuracy_counts_a_failed_case_as_wrong() -> None:
    """3 of 6 right (a, a, b); the None (failed triage) is wrong, not skipped."""
    assert m.accuracy(TRUTH, PRED) == pytest.approx(3 / 6)
    assert m.accuracy([], []) is None


def test_per_class_precision_recall_f1_by_hand() -> None:
    """a: tp 2, predicted 2, support 3 → P 1, R 2/3, F1 0.8.
    b: tp 1, predicted 2, support 2 → P 0.5, R 0.5, F1 0.5.
    c: tp 0, predicted 1, support 1 → P 0, R 0, F1 0."""
    scores = m.per_class(TRUTH, PRED)
    a = scores["a"]
    assert (a.precision, a.support, a.predicted) == (1.0, 3, 2)
    assert a.recall == pytest.approx(2 / 3) and a.f1 == pytest.approx(0.8)
    assert (scores["b"].precision, scores["b"].recall, scores["b"].f1) == (0.5, 0.5, 0.5)
    assert (scores["c"].precision, scores["c"].recall, scores["c"].f1, scores["c"].predicted) == (0.0, 0.0, 0.0, 1)


def test_macro_f1_is_the_unweighted_mean() -> None:
    """(0.8 + 0.5 + 0) / 3 = 0.4333…"""
    assert m.macro_f1(TRUTH, PRED) == pytest.approx(1.3 / 3)


def test_a_category_only_predicted_counts_in_macro_f1() -> None:
    """Truth a a, predicted a z: a has P 1, R 0.5, F1 2/3; z (never true) has F1 0 → macro 1/3."""
    assert m.class_labels(["a", "a"], ["a", "z"]) == ["a", "z"]
    assert m.macro_f1(["a", "a"], ["a", "z"]) == pytest.approx(1 / 3)


def test_class_labels_follow_the_given_order_then_the_name() -> None:
    assert m.class_labels(["x", "b", "a"], ["c", None], order=["c", "a"]) == ["c", "a", "b", "x"]


def test_confusion_matrix_rows_truth_columns_predicted_then_none() -> None:
    assert m.confusion_matrix(TRUTH, PRED, ["a", "b", "c"]) == [
        [2, 1, 0, 0],
        [0, 1, 1, 0],
        [0, 0, 0, 1],  # the failed case lands in the last column, "(none)"
    ]


def test_must_see_recall_and_precision_of_routing_to_a_person() -> None:
    """Expected human on cases 1, 2, 4; routed human on 1 and 3, case 4 failed (None).
    Recall: 1 of 3 must-see cases reached a person. Precision: of the 2 routed human, 1 had to be.
    Auto rate: cases 2 and 5 of 5 → 0.4."""
    expected = ["human", "human", "auto", "human", "auto"]
    routes: list[str | None] = ["human", "auto", "human", None, "auto"]
    assert m.must_see_recall(expected, routes) == pytest.approx(1 / 3)
    assert m.human_precision(expected, routes) == pytest.approx(1 / 2)
    assert m.auto_rate(routes) == pytest.approx(2 / 5)
    assert m.must_see_recall(["auto"], ["auto"]) is None  # nothing had to be seen: nothing to score


def test_labelled_accuracy_skips_unlabelled_cases() -> None:
    """Actions labelled on 3 cases of 4, 2 of them right → 2/3."""
    assert m.labelled_accuracy(["rebill", None, "write_off", "credit_note"],
                               ["rebill", "x", "credit_note", "credit_note"]) == pytest.approx(2 / 3)


def test_reliability_bins_and_ece_by_hand() -> None:
    """Confidences 0.95, 0.95 (one right), 0.65 (right), 0.62 (wrong), 0.1 (wrong), 0.0 (wrong).
    Bins (10): (0.9, 1.0]: 2 cases, conf 0.95, acc 0.5 → gap 0.45
               (0.6, 0.7]: 2 cases, conf 0.635, acc 0.5 → gap 0.135
               [0.0, 0.1]: 2 cases, conf 0.05, acc 0 → gap 0.05  (0.1 on the edge falls in the lower bin)
    ECE = (2·0.45 + 2·0.135 + 2·0.05) / 6 = 0.211666…"""
    conf = [0.95, 0.95, 0.65, 0.62, 0.1, 0.0]
    ok = [True, False, True, False, False, False]
    bins = m.reliability_bins(conf, ok)
    assert [b.count for b in bins] == [2, 0, 0, 0, 0, 0, 2, 0, 0, 2]
    assert bins[9].mean_confidence == pytest.approx(0.95) and bins[9].accuracy == 0.5
    assert bins[1].mean_confidence is None and bins[1].accuracy is None
    assert m.expected_calibration_error(conf, ok) == pytest.approx((2 * 0.45 + 2 * 0.135 + 2 * 0.05) / 6)


def test_a_confidence_on_a_bin_edge_falls_in_the_lower_bin() -> None:
    """0.7 · 10 is 7.000000000000001 in floating point; 0.7 still belongs to (0.6, 0.7]."""
    assert [b.count for b in m.reliability_bins([0.7, 0.3], [True, True])][2:8] == [1, 0, 0, 0, 1, 0]


def test_a_perfectly_calibrated_set_has_zero_ece() -> None:
    """Four cases at 0.75, three right: accuracy 0.75 in the bin equals the confidence."""
    assert m.expected_calibration_error([0.75] * 4, [True, True, True, False]) == pytest.approx(0.0)


def test_brier_score_by_hand() -> None:
    """((0.9-1)² + (0.8-0)² + (0.5-1)²) / 3 = (0.01 + 0.64 + 0.25) / 3 = 0.3"""
    assert m.brier_score([0.9, 0.8, 0.5], [True, False, True]) == pytest.approx(0.3)
    assert m.brier_score([], []) is None


def test_coverage_curve_keeps_the_most_confident_first() -> None:
    """Confidences 0.9 (right), 0.8 (wrong), 0.8 (right), 0.5 (right):
    ≥0.9 keeps 1 (acc 1); ≥0.8 keeps 3 (acc 2/3); ≥0.5 keeps 4 (acc 3/4)."""
    curve = m.coverage_curve([0.9, 0.8, 0.8, 0.5], [True, False, True, True])
    assert [(p.threshold, p.coverage, p.kept) for p in curve] == [(0.9, 0.25, 1), (0.8, 0.75, 3), (0.5, 1.0, 4)]
    assert [p.accuracy for p in curve] == pytest.approx([1.0, 2 / 3, 3 / 4])


def test_threshold_for_precision_takes_the_lowest_that_reaches_the_target() -> None:
    """Same cases: precision 1 at ≥0.9, 2/3 at ≥0.8, 0.75 at ≥0.5. Target 0.7 → 0.5 (0.75 ≥ 0.7,
    the most cases kept); target 0.95 → 0.9; target 1.01 → none."""
    conf, ok = [0.9, 0.8, 0.8, 0.5], [True, False, True, True]
    pick = m.threshold_for_precision(conf, ok, 0.7)
    assert pick == m.ThresholdPick(target=0.7, threshold=0.5, precision=0.75, kept=4, candidates=4)
    high = m.threshold_for_precision(conf, ok, 0.95)
    assert high is not None and (high.threshold, high.kept) == (0.9, 1)
    assert m.threshold_for_precision(conf, ok, 1.01) is None


def test_dollars_from_prices_per_million_tokens() -> None:
    """gpt-4o-mini at (0.15, 0.60) USD per million: 2,000,000 in + 500,000 out = 0.30 + 0.30 = 0.60."""
    assert m.dollars(2_000_000, 500_000, (Decimal("0.15"), Decimal("0.60"))) == Decimal("0.6")
    assert m.dollars(10, 10, None) is None


def test_percentile_interpolates_linearly() -> None:
    """[10, 20, 30, 40]: p50 at rank 1.5 → 25; p95 at rank 2.85 → 30 + 0.85·10 = 38.5."""
    assert m.percentile([40, 10, 30, 20], 0.5) == pytest.approx(25.0)
    assert m.percentile([40, 10, 30, 20], 0.95) == pytest.approx(38.5)
    assert m.percentile([7.0], 0.95) == 7.0
    assert m.percentile([], 0.5) is None


def test_parallel_sequences_must_have_the_same_length() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        m.accuracy(["a"], ["a", "b"])
