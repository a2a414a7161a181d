"""Choose the fusion weights on one half of the development queries, check them on the other.

    python -m knowledge.tune                      # sets main, holdout, holdout2
    python -m knowledge.tune --sets main holdout  # other sets

The development queries (never the blind set) are split by position: even-numbered ones
choose the weights, odd-numbered ones check them. Each query's signals (vector, keyword,
item keyword; see ``KnowledgeBase.signals``) are computed once with the real search code;
then every weight pair on a grid is scored: recall@3 + MRR on the fitting half. The vector
weight is fixed at 1 (only ratios matter). The result is printed, not written: a person
copies it into ``fusion.WEIGHTS`` with the figures in the commit message, so the weights in
the code are always ones that were checked on queries they were not chosen on.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.eval import EvalQuery, is_relevant, load_queries
from knowledge.fusion import WEIGHTS, FusionWeights
from knowledge.index import KBConfig
from knowledge.search import KnowledgeBase

DEV_SETS = ("main", "holdout", "holdout2")
GRID = tuple(round(x, 2) for x in np.arange(0.0, 1.01, 0.05))


@dataclass(frozen=True)
class Figures:
    recall_at_1: float
    recall_at_3: float
    mrr: float

    def __str__(self) -> str:
        return f"recall@1 {self.recall_at_1:.3f}  recall@3 {self.recall_at_3:.3f}  MRR {self.mrr:.3f}"


def signal_matrix(kb: KnowledgeBase, queries: list[EvalQuery]) -> tuple[np.ndarray, np.ndarray]:
    """(queries x sections x 3 signals, queries x sections relevance)."""
    ids = kb.chunk_ids()
    features, relevant = [], []
    for q in queries:
        s = kb.signals(q.q)
        features.append(np.stack([s.vector, s.keyword, s.item_keyword], axis=-1))
        relevant.append([is_relevant(cid, q.relevant) for cid in ids])
    return np.array(features), np.array(relevant, dtype=bool)


def figures(scores: np.ndarray, relevant: np.ndarray) -> Figures:
    """Recall@1, recall@3 and MRR@10 of per-query section scores (ties in SOP order)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(len(scores))[:, None], order] = np.arange(1, scores.shape[1] + 1)
    first = np.where(relevant, ranks, np.iinfo(np.int64).max).min(axis=1)
    return Figures(
        recall_at_1=float((first == 1).mean()),
        recall_at_3=float((first <= 3).mean()),
        mrr=float(np.where(first <= 10, 1.0 / first, 0.0).mean()),
    )


def weighted(features: np.ndarray, w: FusionWeights) -> np.ndarray:
    return features @ np.array([w.vector, w.keyword, w.item_keyword])


def tune(features: np.ndarray, relevant: np.ndarray) -> tuple[FusionWeights, Figures]:
    """The grid point with the best recall@3 + MRR (ties: the smaller keyword weights)."""
    best: tuple[float, FusionWeights, Figures] | None = None
    for kw, item in itertools.product(GRID, GRID):
        w = FusionWeights(vector=1.0, keyword=kw, item_keyword=item)
        f = figures(weighted(features, w), relevant)
        if best is None or f.recall_at_3 + f.mrr > best[0] + 1e-12:
            best = (f.recall_at_3 + f.mrr, w, f)
    assert best is not None
    return best[1], best[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(DEV_SETS))
    parser.add_argument("--chroma-path", type=Path, default=Path(".triage/chroma"))
    parser.add_argument("--collection", default="sops")
    args = parser.parse_args()
    kb = KnowledgeBase(KBConfig(chroma_path=args.chroma_path, collection=args.collection))
    queries = load_queries(sets=args.sets)
    features, relevant = signal_matrix(kb, queries)
    fit = np.arange(len(queries)) % 2 == 0
    chosen, on_fit = tune(features[fit], relevant[fit])
    scale = 6.0  # printed on the scale of fusion.WEIGHTS
    print(f"{len(queries)} queries of {', '.join(args.sets)}: {fit.sum()} fit, "
          f"{(~fit).sum()} check")
    print(f"chosen: vector {scale:.2f}, keyword {scale * chosen.keyword:.2f}, "
          f"item_keyword {scale * chosen.item_keyword:.2f}")
    print(f"  fit   {on_fit}")
    print(f"  check {figures(weighted(features[~fit], chosen), relevant[~fit])}")
    print(f"  all   {figures(weighted(features, chosen), relevant)}")
    print(f"current fusion.WEIGHTS {WEIGHTS}:")
    print(f"  fit   {figures(weighted(features[fit], WEIGHTS), relevant[fit])}")
    print(f"  check {figures(weighted(features[~fit], WEIGHTS), relevant[~fit])}")
    print(f"  all   {figures(weighted(features, WEIGHTS), relevant)}")
    for name, col in (("vector", 0), ("keyword", 1), ("item_keyword", 2)):
        print(f"  {name} alone: {figures(features[..., col], relevant)}")


if __name__ == "__main__":
    main()
