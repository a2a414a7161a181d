"""Choose the fusion weights on one half of the development queries, check them on the other.

    python -m knowledge.tune                      # sets main, holdout, holdout2, asks
    python -m knowledge.tune --sets main holdout  # other sets

The development queries (never a blind set) are split by position: even-numbered ones
choose the weights, odd-numbered ones check them. Each query's signals (vector, keyword,
item keyword, role; see ``KnowledgeBase.signals``) are computed once with the real search
code; then every point of a grid (keyword and item-keyword weights, role bonus, runbook
weight) is scored with ``fusion.fuse``: recall@3 + MRR on the fitting half. The vector
weight is fixed (only ratios matter). The result is printed, not written: a person copies it
into ``fusion.WEIGHTS`` with the figures in the commit message, so the weights in the code
are always ones that were checked on queries they were not chosen on.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.eval import EvalQuery, is_relevant, load_queries
from knowledge.fusion import WEIGHTS, FusionWeights, Signals, fuse
from knowledge.index import KBConfig
from knowledge.search import KnowledgeBase

DEV_SETS = ("main", "holdout", "holdout2", "asks")
#: On the scale of ``fusion.WEIGHTS`` (vector 6.0).
VECTOR = 6.0
KEYWORD_GRID = (3.6, 4.2, 4.8, 5.4, 6.0, 6.6)
ITEM_GRID = (0.0, 1.2, 2.1, 3.0)
ROLE_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)
RUNBOOK_GRID = (0.0, 0.5, 1.0, 1.5)


@dataclass(frozen=True)
class Figures:
    recall_at_1: float
    recall_at_3: float
    mrr: float

    def __str__(self) -> str:
        return f"recall@1 {self.recall_at_1:.3f}  recall@3 {self.recall_at_3:.3f}  MRR {self.mrr:.3f}"


def signal_matrix(kb: KnowledgeBase, queries: list[EvalQuery]) -> tuple[list[Signals], np.ndarray]:
    """(each query's signals, queries x sections relevance)."""
    ids = kb.chunk_ids()
    relevant = [[is_relevant(cid, q.relevant) for cid in ids] for q in queries]
    return [kb.signals(q.q) for q in queries], np.array(relevant, dtype=bool)


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


def weighted(signals: list[Signals], w: FusionWeights) -> np.ndarray:
    """queries x sections fused scores."""
    return np.array([fuse(s, w) for s in signals])


def tune(signals: list[Signals], relevant: np.ndarray) -> tuple[FusionWeights, Figures]:
    """The grid point with the best recall@3 + MRR (ties: the first, i.e. smaller weights)."""
    best: tuple[float, FusionWeights, Figures] | None = None
    for kw, item, role, runbook in itertools.product(
        KEYWORD_GRID, ITEM_GRID, ROLE_GRID, RUNBOOK_GRID
    ):
        w = FusionWeights(vector=VECTOR, keyword=kw, item_keyword=item, role=role,
                          runbook=runbook)
        f = figures(weighted(signals, w), relevant)
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
    signals, relevant = signal_matrix(kb, queries)
    fit = np.arange(len(queries)) % 2 == 0
    fitting = [s for s, f in zip(signals, fit, strict=True) if f]
    checking = [s for s, f in zip(signals, fit, strict=True) if not f]
    chosen, on_fit = tune(fitting, relevant[fit])
    print(f"{len(queries)} queries of {', '.join(args.sets)}: {fit.sum()} fit, "
          f"{(~fit).sum()} check")
    print(f"chosen: {chosen}")
    print(f"  fit   {on_fit}")
    print(f"  check {figures(weighted(checking, chosen), relevant[~fit])}")
    print(f"  all   {figures(weighted(signals, chosen), relevant)}")
    print(f"current fusion.WEIGHTS {WEIGHTS}:")
    print(f"  fit   {figures(weighted(fitting, WEIGHTS), relevant[fit])}")
    print(f"  check {figures(weighted(checking, WEIGHTS), relevant[~fit])}")
    print(f"  all   {figures(weighted(signals, WEIGHTS), relevant)}")
    for name in ("vector", "keyword", "item_keyword"):
        alone = np.array([getattr(s, name) for s in signals])
        print(f"  {name} alone: {figures(alone, relevant)}")


if __name__ == "__main__":
    main()
