"""Retrieval eval: recall@1, recall@3, MRR and latency over labelled queries, per search mode.

Each query in ``eval_queries.yaml`` is labelled with the SOP sections that answer it. A hit is
a returned passage inside one of those sections. Latency is the wall time of one
``KnowledgeBase.search`` call with a warm model and an empty query-vector cache, so every
query really runs the embedding model.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from knowledge.keyword import tokenize
from knowledge.search import KnowledgeBase, SearchMode

QUERIES_PATH = Path(__file__).resolve().parent / "eval_queries.yaml"
#: Further query sets, one file each: ``eval_queries_<set>.yaml`` (e.g. the blind ``holdout3``).
#: A query in such a file belongs to the set named by the file unless it says otherwise.
EXTRA_QUERIES_GLOB = "eval_queries_*.yaml"
MODES: tuple[SearchMode, ...] = ("vector", "keyword", "fused")
#: MRR is computed over this many results (MRR@10).
DEPTH = 10


class EvalQuery(BaseModel):
    """One labelled query."""

    q: str
    relevant: list[str] = Field(min_length=1)
    style: str = "analyst"
    #: "main": written before the first measurement; "holdout": written after the last
    #: retrieval change and measured once, to show the tuning did not overfit "main".
    set: str = "main"


class ModeResult(BaseModel):
    """The figures of one search mode."""

    mode: str
    n: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    p50_ms: float
    p95_ms: float
    #: CPU time of the process per query: unlike wall time, barely moved by other
    #: programs competing for the cores, so runs on a busy machine stay comparable.
    p50_cpu_ms: float = 0.0
    p95_cpu_ms: float = 0.0
    misses: list[str] = []


class EvalReport(BaseModel):
    """All modes side by side, plus how many queries share no word with their answer."""

    queries: int
    #: Queries with no content word (stemmed, stopwords dropped) in their labelled passages.
    no_shared_words: int
    #: Queries with no content word in the title or headings of the SOP they need.
    no_shared_title_words: int
    results: list[ModeResult]
    #: The fused figures per query set ("main", "holdout").
    by_set: dict[str, ModeResult] = {}

    def fused(self) -> ModeResult:
        return next(r for r in self.results if r.mode == "fused")


def _read_queries(path: Path, default_set: str) -> list[EvalQuery]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [EvalQuery(**{"set": default_set, **item}) for item in data["queries"]]


def load_queries(path: Path = QUERIES_PATH, sets: list[str] | None = None) -> list[EvalQuery]:
    """Read and validate the labelled queries: ``path`` and, next to it, every
    ``eval_queries_<set>.yaml``; only the queries of ``sets`` when given."""
    queries = _read_queries(path, "main")
    for extra in sorted(path.parent.glob(EXTRA_QUERIES_GLOB)):
        queries += _read_queries(extra, extra.stem.removeprefix("eval_queries_"))
    if sets:
        unknown = set(sets) - {q.set for q in queries}
        if unknown:
            raise ValueError(f"unknown query sets {sorted(unknown)}")
        queries = [q for q in queries if q.set in sets]
    return queries


def is_relevant(chunk_id: str, labels: list[str]) -> bool:
    """True when ``chunk_id`` lies in a labelled section (or SOP, for a bare SOP id).

    ``sop#decision-steps`` covers ``sop#decision-steps``, its parts ``…~2`` and its
    subsections ``sop#decision-steps/window-passed``.
    """
    sop_id, _, section = chunk_id.partition("#")
    section = section.split("~", 1)[0]
    for label in labels:
        want_sop, _, want_section = label.partition("#")
        if want_sop != sop_id:
            continue
        if not want_section or section == want_section or section.startswith(want_section + "/"):
            return True
    return False


def _check_labels(kb: KnowledgeBase, queries: list[EvalQuery]) -> None:
    """Fail loudly on a label that matches no passage (a renamed heading, a typo)."""
    ids = kb.chunk_ids()
    bad = sorted({
        label for q in queries for label in q.relevant
        if not any(is_relevant(cid, [label]) for cid in ids)
    })
    if bad:
        raise ValueError(f"eval labels matching no indexed passage: {', '.join(bad)}")


def _shares_no_words(kb: KnowledgeBase, query: EvalQuery) -> bool:
    """True when no query term (stemmed, stopwords dropped) occurs in a labelled passage."""
    words = set(tokenize(query.q))
    texts = [kb.passage_text(cid) for cid in kb.chunk_ids() if is_relevant(cid, query.relevant)]
    return not any(words & set(tokenize(t)) for t in texts)


def _shares_no_title_words(kb: KnowledgeBase, query: EvalQuery) -> bool:
    """True when no query term occurs in the titles or headings of the labelled SOPs."""
    words = set(tokenize(query.q))
    sops = {label.partition("#")[0] for label in query.relevant}
    names = {kb.passage_title(cid) for cid in kb.chunk_ids() if cid.partition("#")[0] in sops}
    return not any(words & set(tokenize(name)) for name in names)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass(frozen=True)
class _Outcome:
    """One query's result: the rank of the first relevant passage, and its cost."""

    query: EvalQuery
    first: int | None
    wall_ms: float
    cpu_ms: float


def _run(kb: KnowledgeBase, query: EvalQuery, mode: SearchMode) -> _Outcome:
    kb.embedding_function.clear_cache()  # measure the model, not the cache
    start, start_cpu = time.perf_counter(), time.process_time()
    passages = kb.search(query.q, k=DEPTH, mode=mode)
    wall = (time.perf_counter() - start) * 1000
    cpu = (time.process_time() - start_cpu) * 1000
    ranks = [i for i, p in enumerate(passages, 1) if is_relevant(p.chunk_id, query.relevant)]
    return _Outcome(query, ranks[0] if ranks else None, wall, cpu)


def _score(mode: str, outcomes: list[_Outcome]) -> ModeResult:
    n = len(outcomes)
    latencies = [o.wall_ms for o in outcomes]
    cpu = [o.cpu_ms for o in outcomes]
    return ModeResult(
        mode=mode,
        n=n,
        recall_at_1=round(sum(o.first == 1 for o in outcomes) / n, 4),
        recall_at_3=round(sum(o.first is not None and o.first <= 3 for o in outcomes) / n, 4),
        mrr=round(sum(1 / o.first for o in outcomes if o.first) / n, 4),
        p50_ms=round(statistics.median(latencies), 2),
        p95_ms=round(_percentile(latencies, 95), 2),
        p50_cpu_ms=round(statistics.median(cpu), 2),
        p95_cpu_ms=round(_percentile(cpu, 95), 2),
        misses=[f"[{o.query.set}] {o.query.q}" for o in outcomes
                if o.first is None or o.first > 3],
    )


def evaluate_mode(kb: KnowledgeBase, queries: list[EvalQuery], mode: SearchMode) -> ModeResult:
    """Run every query once in ``mode`` and score it."""
    return _score(mode, [_run(kb, q, mode) for q in queries])


def evaluate(
    kb: KnowledgeBase,
    queries: list[EvalQuery] | None = None,
    modes: tuple[SearchMode, ...] = MODES,
) -> EvalReport:
    """Score each mode on the labelled queries (default: ``eval_queries.yaml``)."""
    queries = queries if queries is not None else load_queries()
    if not len(kb):
        raise ValueError("the index is empty: run the indexer first")
    _check_labels(kb, queries)
    kb.embedding_function.warm_up()
    for mode in modes:  # warm Chroma's and the keyword index's first-call paths
        kb.search("warm up query", k=DEPTH, mode=mode)
    outcomes = {mode: [_run(kb, q, mode) for q in queries] for mode in modes}
    results = [_score(mode, runs) for mode, runs in outcomes.items()]
    sets = list(dict.fromkeys(q.set for q in queries))
    by_set = (
        {name: _score("fused", [o for o in outcomes["fused"] if o.query.set == name])
         for name in sets}
        if len(sets) > 1 and "fused" in modes else {}
    )
    return EvalReport(
        queries=len(queries),
        no_shared_words=sum(_shares_no_words(kb, q) for q in queries),
        no_shared_title_words=sum(_shares_no_title_words(kb, q) for q in queries),
        results=results,
        by_set=by_set,
    )
