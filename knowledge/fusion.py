"""Combining rankings: weighted reciprocal-rank fusion, and the exact-identifier guarantee.

A ranking is a list of ``(document index, score)`` pairs, best first.
"""

from __future__ import annotations

import re

from knowledge.keyword import BM25Index

Ranking = list[tuple[int, float]]

#: Reciprocal-rank-fusion constant. Cormack et al. (2009) use 60 for long runs from many
#: systems; with three short rankings of 30, a smaller constant lets a top-ranked passage of
#: one retriever count more. Chosen on the even-numbered main eval queries (10 vs 20, 30,
#: 60), checked on the odd-numbered ones.
RRF_K = 10
#: An identifier found in more than this share of passages is vocabulary, not a needle.
EXACT_TERM_MAX_SHARE = 0.05
#: A passage naming a rare identifier of the query is always among this many first results.
EXACT_TERM_TOP = 3

_RAW_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:[_\-.][A-Za-z0-9]+)*")
#: snake_case, an inner capital (camelCase, CamelCase), or an all-capitals word of 3+ letters.
_IDENTIFIER_RE = re.compile(r"_|[a-z][A-Z]|^[A-Z]{3,}$")


def rrf(rankings: list[tuple[Ranking, float]], k: int = RRF_K) -> Ranking:
    """Weighted reciprocal-rank fusion: score = sum over rankings of weight / (k + rank).

    Rank-based, so it needs no calibration between cosine and BM25 scores; a passage that
    only one retriever finds (an exact identifier, a paraphrase) still surfaces. Ties are
    broken by document index, so the result is deterministic.
    """
    fused: dict[int, float] = {}
    for ranking, weight in rankings:
        for rank, (doc, _) in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def exact_terms(query: str, bm25: BM25Index) -> list[str]:
    """Identifiers of the query (``snake_case``, ``CamelCase``, ``ACRONYM``) that are rare
    in the corpus (at most :data:`EXACT_TERM_MAX_SHARE` of the passages): the terms a user
    means literally, lowercased as indexed."""
    limit = max(1, int(EXACT_TERM_MAX_SHARE * len(bm25)))
    terms: list[str] = []
    for raw in _RAW_TOKEN_RE.findall(query):
        term = raw.lower()
        if _IDENTIFIER_RE.search(raw) and 0 < bm25.document_frequency(term) <= limit:
            terms.append(term)
    return list(dict.fromkeys(terms))


def promote_exact(ranked: Ranking, keyword: Ranking, query: str, bm25: BM25Index) -> Ranking:
    """Make sure each rare identifier of the query is named by one of the top passages.

    A sentence model cannot read ``DISBURSEMENT_FAILURE`` or ``charge_side``, and two vector
    rankings can outvote the keyword one. For each such term, the best keyword hit that
    contains it is moved into the top :data:`EXACT_TERM_TOP` if no passage there names it.
    """
    for term in exact_terms(query, bm25)[:EXACT_TERM_TOP]:
        holders = bm25.documents_with(term)
        if any(doc in holders for doc, _ in ranked[:EXACT_TERM_TOP]):
            continue
        best = next((doc for doc, _ in keyword if doc in holders), None)
        if best is None:
            continue  # filtered out: nothing to promote
        rest = [item for item in ranked if item[0] != best]
        slot = min(EXACT_TERM_TOP - 1, len(rest))
        # Scores stay non-increasing: the promoted passage takes the score of the one it
        # overtakes (or keeps its own when it lands last).
        score = rest[slot][1] if slot < len(rest) else dict(ranked)[best]
        ranked = rest[:slot] + [(best, score)] + rest[slot:]
    return ranked
