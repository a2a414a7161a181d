"""The retrieval eval: labels, relevance rule, and a floor under the measured figures.

The floor guards against regressions of quality (deterministic: same corpus, same model);
speed is measured by `triage kb eval`, never asserted in tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge import KnowledgeBase
from knowledge.eval import evaluate, is_relevant, load_queries
from knowledge.fusion import Signals
from knowledge.tune import figures, tune

FLOOR_RECALL_AT_3 = 0.87
FLOOR_MRR = 0.80


def test_relevance_rule() -> None:
    assert is_relevant("a#decision-steps", ["a#decision-steps"])
    assert is_relevant("a#decision-steps~2", ["a#decision-steps"])  # a part
    assert is_relevant("a#symptoms/how-it-is-reported", ["a#symptoms"])  # a subsection
    assert is_relevant("a#slas", ["a"])  # bare SOP id: any passage
    assert not is_relevant("a#decision-steps-2", ["a#decision-steps"])
    assert not is_relevant("b#symptoms", ["a#symptoms"])


def test_queries_are_many_and_labelled() -> None:
    queries = load_queries()
    assert len(queries) >= 80
    assert all(q.relevant for q in queries)
    assert len({q.q for q in queries}) == len(queries)
    # The blind set lives in its own file and is named after it.
    assert len([q for q in queries if q.set == "holdout3"]) >= 40


def test_query_sets_come_from_their_files(tmp_path: Path) -> None:
    main = tmp_path / "eval_queries.yaml"
    main.write_text("queries:\n  - q: one\n    relevant: [a#b]\n", encoding="utf-8")
    (tmp_path / "eval_queries_blind.yaml").write_text(
        "queries:\n  - q: two\n    relevant: [a#c]\n  - q: three\n    relevant: [a]\n"
        "    set: other\n", encoding="utf-8")
    assert [(q.q, q.set) for q in load_queries(main)] == [
        ("one", "main"), ("two", "blind"), ("three", "other")]
    assert [q.q for q in load_queries(main, sets=["blind"])] == ["two"]
    with pytest.raises(ValueError, match="unknown query sets"):
        load_queries(main, sets=["nope"])


def test_tuner_scores_and_picks_weights() -> None:
    # Two queries, three sections, signals (vector, keyword, item keyword).
    features = np.array([
        [[0.9, 0.0, 0.0], [0.5, 1.0, 0.0], [0.1, 0.0, 0.0]],  # keyword knows section 1
        [[0.2, 0.0, 0.0], [0.6, 0.9, 0.0], [0.7, 0.0, 0.0]],
    ])
    relevant = np.array([[False, True, False], [False, True, False]])
    vector_only = figures(features[..., 0], relevant)
    assert (vector_only.recall_at_1, vector_only.mrr) == (0.0, 0.5)
    signals = [Signals(vector=f[:, 0], keyword=f[:, 1], item_keyword=f[:, 2]) for f in features]
    weights, fitted = tune(signals, relevant)
    assert weights.keyword > 0 and fitted.recall_at_1 == 1.0


def test_every_label_points_at_an_indexed_passage_and_quality_floor(kb: KnowledgeBase) -> None:
    report = evaluate(kb, modes=("fused",))  # raises on a label matching no passage
    fused = report.fused()
    assert fused.n == report.queries >= 80
    # Measured on this corpus in docs/knowledge.md (all sets, the blind one included); the
    # floor leaves room for numeric jitter between machines, not for a real regression.
    assert fused.recall_at_3 >= FLOOR_RECALL_AT_3
    assert fused.mrr >= FLOOR_MRR
