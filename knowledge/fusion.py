"""Combining the retrievers: a weighted sum of their scores, and the exact-identifier guarantee.

A ranking is a list of ``(document index, score)`` pairs, best first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from knowledge.keyword import BM25Index

Ranking = list[tuple[int, float]]


@dataclass(frozen=True)
class Signals:
    """What each retriever says about every section (arrays indexed by section)."""

    #: Cosine similarity of the query to the section's best vector record.
    vector: np.ndarray
    #: BM25 of the section, as a share of a whole-query match (see ``search._scaled``).
    keyword: np.ndarray
    #: BM25 of the section's best item, as a share of a whole-query match.
    item_keyword: np.ndarray
    #: 1 where the section is of a kind the query asks for ("who ..." -> Escalation; see
    #: ``knowledge.roles``), else 0. None: no such signal.
    role: np.ndarray | None = None
    #: Where each runbook's sections start (sections are grouped by runbook, in order), for
    #: the runbook-level score. None: each section stands alone.
    runbook_starts: np.ndarray | None = None


@dataclass(frozen=True)
class FusionWeights:
    """The weight of each signal in the fused score (only their ratios matter)."""

    vector: float
    keyword: float
    item_keyword: float
    #: Added to a section of the kind the query asks for (``Signals.role``).
    role: float = 0.0
    #: Times the best section score of the section's runbook: the runbook is chosen on all
    #: its sections' evidence, then the role and the section's own score pick the section.
    runbook: float = 0.0


#: Chosen by ``python -m knowledge.tune`` (a grid over the keyword, item-keyword, role and
#: runbook weights, vector fixed, best recall@3 + MRR) on the even-numbered queries of every
#: set but the blind holdout6 (main, holdout, holdout2, asks, holdout3, holdout4, holdout5:
#: 430 queries), checked on the odd-numbered ones: recall@1 / recall@3 / MRR 0.726 / 0.865 /
#: 0.803 fitting, 0.735 / 0.921 / 0.826 checking. Role 1.5 and runbook 1.0 were also the
#: choice on the first development sets alone (main, holdout, holdout2, asks).
WEIGHTS = FusionWeights(vector=6.0, keyword=4.2, item_keyword=3.0, role=1.5, runbook=1.0)


def fuse(signals: Signals, weights: FusionWeights = WEIGHTS) -> np.ndarray:
    """The fused score of every section.

    The section score is a weighted sum of the vector and keyword signals. Scores, not
    ranks: a passage that one retriever finds far ahead of the rest (a BM25 score twice the
    next one's) counts for more than one that merely ranks first, which reciprocal-rank
    fusion cannot tell apart. Cosines and scaled BM25 scores both live in about 0-1, and the
    weights were fitted on labelled queries, so no calibration is guessed.

    Two stages on top of it: each section also gets ``runbook`` times the best section score
    of its runbook (a question is first about one runbook; the sections of the runbook that
    matches best stay together near the top), and ``role`` when it is of the kind the query
    asks for, which picks, inside that runbook, Escalation for "who do we chase" rather
    than the Symptoms that describe the situation.
    """
    section = (weights.vector * signals.vector + weights.keyword * signals.keyword
               + weights.item_keyword * signals.item_keyword)
    fused = section.copy()
    if signals.role is not None and weights.role:
        fused += weights.role * signals.role
    starts = signals.runbook_starts
    if starts is not None and len(starts) and weights.runbook:
        best = np.maximum.reduceat(section, starts)
        sizes = np.diff(np.append(starts, len(section)))
        fused += weights.runbook * np.repeat(best, sizes)
    return fused


#: An identifier found in more than this share of passages is vocabulary, not a needle.
EXACT_TERM_MAX_SHARE = 0.05
#: A passage naming a rare identifier of the query is always among this many first results.
EXACT_TERM_TOP = 3

_RAW_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:[_\-.][A-Za-z0-9]+)*")
#: snake_case, an inner capital (camelCase, CamelCase), or an all-capitals word of 3+ letters.
_IDENTIFIER_RE = re.compile(r"_|[a-z][A-Z]|^[A-Z]{3,}$")


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

    A sentence model cannot read ``DISBURSEMENT_FAILURE`` or ``charge_side``, and the vector
    score can outweigh the keyword one. For each such term, the best keyword hit that
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
