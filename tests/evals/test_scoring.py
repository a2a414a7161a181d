"""From case results to run metrics: which cases count where (hand-made results)."""

from __future__ import annotations

import pytest

from evals.results import DraftCheck
from evals.scoring import HEADLINE, decision_correct, recommend_threshold, score_run
from tests.evals.factories import result


def test_a_failed_case_is_wrong_and_a_missed_must_see() -> None:
    """A case the graph failed on has no category and no route: wrong, and if a person had to
    see it, missed (a failure leaves the exception open, in front of nobody)."""
    results = [result("a", "short_payment", "short_payment", route="human", expected_route="human"),
               result("b", "forgiven_charge", None, route=None, expected_route="human", confidence=None,
                      status="failed")]
    m = score_run(results, prices={}, confidence_threshold=0.8)
    assert (m.failed, m.accuracy, m.must_see_recall, m.must_see_missed) == (1, 0.5, 0.5, 1)
    assert m.confusion_columns[-1] == "(none)" and m.confusion[m.confusion_labels.index("forgiven_charge")][-1] == 1
    assert m.ece is not None and len(m.coverage) == 1  # calibration only over cases with a confidence


def test_a_second_cause_counts_only_in_the_any_cause_accuracy() -> None:
    results = [result("a", "short_payment", "listing_fee_mismatch", second="listing_fee_mismatch"),
               result("b", "fx_variance", "fx_variance")]
    m = score_run(results, prices={}, confidence_threshold=0.8)
    assert (m.accuracy, m.accuracy_any_cause) == (0.5, 1.0)


def test_a_decision_is_right_when_category_and_labelled_action_are() -> None:
    assert decision_correct(result("a", "dropped_metering", "dropped_metering", action="resend_metering",
                                   expected_action="resend_metering"))
    assert not decision_correct(result("a", "dropped_metering", "dropped_metering", action="rebill",
                                       expected_action="resend_metering"))
    assert decision_correct(result("a", "dropped_metering", "dropped_metering", action="rebill"))


def test_the_threshold_recommendation_considers_auto_and_low_confidence_cases_only() -> None:
    """Candidates: the auto-routed cases and the one sent to a person for low confidence alone; the
    material case (another reason) is not the threshold's to change. Right at 0.95 and 0.90, wrong
    at 0.85, right at 0.70: a threshold of 0.90 keeps 2 cases right 100% ≥ 95%."""
    low = ["confidence 0.70 is below the threshold 0.80"]
    material = ["amount at stake USD 12,000.00 is at or above materiality USD 10,000.00"]
    results = [result("a", "fx_variance", "fx_variance", confidence=0.95),
               result("b", "fx_variance", "fx_variance", confidence=0.90),
               result("c", "fx_variance", "timing_difference", confidence=0.85),
               result("d", "fx_variance", "fx_variance", confidence=0.70, route="human", reasons=low),
               result("e", "fx_variance", "short_payment", confidence=0.99, route="human", reasons=material)]
    pick = recommend_threshold(results, current=0.8, target=0.95)
    assert (pick.candidates, pick.threshold, pick.precision, pick.auto_cases) == (4, 0.90, 1.0, 2)
    assert pick.auto_rate == pytest.approx(2 / 5)
    assert "raises the configured 0.80" in pick.note and "recommendation only" in pick.note
    none = recommend_threshold([result("c", "fx_variance", "short_payment", confidence=0.99)], current=0.8)
    assert none.threshold is None and "no confidence threshold" in none.note


def test_draft_figures() -> None:
    faithful = DraftCheck(kind="email", to="x", subject="s", body="b", sop_steps=["p#1"], sop_cited=True)
    invented = faithful.model_copy(update={"invented_ids": ["INV-9"], "sop_cited": False})
    dated = faithful.model_copy(update={"other_unsupported": ["2026-01-01"]})
    results = [result(c, "fx_variance", "fx_variance", draft=d) for c, d in (("a", faithful), ("b", invented),
                                                                              ("c", dated))]
    results.append(result("d", "fx_variance", None, route=None, status="failed"))  # no draft at all
    m = score_run(results, prices={}, confidence_threshold=0.8)
    assert (m.drafts, m.invented_numbers) == (3, 1)
    assert m.drafts_faithful == pytest.approx(1 / 3) and m.sop_cited == pytest.approx(2 / 3)


def test_latency_is_the_graphs_and_the_headline_has_every_key() -> None:
    results = [result(str(i), "fx_variance", "fx_variance", wall_ms=float(ms), load_ms=500.0)
               for i, ms in enumerate([10, 20, 30, 40])]
    m = score_run(results, prices={}, confidence_threshold=0.8)
    assert (m.latency_p50_ms, m.load_p50_ms) == (25.0, 500.0)
    assert m.latency_p95_ms == pytest.approx(38.5)
    assert list(m.headline()) == list(HEADLINE)
    assert {"cases", "accuracy", "macro_f1", "must_see_recall", "auto_rate", "ece", "invented_numbers",
            "llm_calls_per_case"} <= set(m.headline())
