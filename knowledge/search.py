"""Retrieval: vector search (Chroma) fused with BM25 by reciprocal rank, with filters.

``search(query, categories=…, channels=…, k=…, config=…)`` is what the tools and the CLI
call. It returns :class:`Passage` objects carrying the SOP id, version and heading that an
audit record cites.
"""

from __future__ import annotations

import json
import re
import threading
import time
from functools import lru_cache
from typing import Any, Literal

from chromadb.api.models.Collection import Collection
from pydantic import BaseModel, ConfigDict

from knowledge.chunking import search_text
from knowledge.embedding import MiniLMEmbeddingFunction
from knowledge.index import (
    CATEGORY_FLAG,
    CHANNEL_FLAG,
    SECTION,
    UNIT_SEPARATOR,
    KBConfig,
    open_client,
    open_collection,
)
from knowledge.keyword import BM25Index, Glossary
from knowledge.sop import CATEGORIES, CHANNELS

SearchMode = Literal["fused", "vector", "keyword"]
#: Reciprocal-rank-fusion constant. Cormack et al. (2009) use 60 for long runs from many
#: systems; with three short rankings of 30, a smaller constant lets a top-ranked passage of
#: one retriever count more. Chosen on the even-numbered eval queries (10 vs 20, 30, 60),
#: checked on the odd-numbered ones.
RRF_K = 10
#: How many sections each retriever hands to the fusion, at least.
CANDIDATES = 30
#: Vector records fetched per wanted section: a section also has one record per item.
RECORDS_PER_SECTION = 4
#: An identifier found in more than this share of passages is vocabulary, not a needle.
EXACT_TERM_MAX_SHARE = 0.05
#: A passage naming such an identifier is always among this many first results.
EXACT_TERM_TOP = 3
_RAW_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:[_\-.][A-Za-z0-9]+)*")
#: snake_case, an inner capital (camelCase, CamelCase), or an all-capitals word of 3+ letters.
_IDENTIFIER_RE = re.compile(r"_|[a-z][A-Z]|^[A-Z]{3,}$")
#: How long a searcher trusts its keyword index before checking the collection's fingerprint.
REFRESH_AFTER_S = 30.0


class Passage(BaseModel):
    """A SOP passage, ready to cite: ``sop_id`` v``version`` § ``heading``."""

    model_config = ConfigDict(frozen=True)

    sop_id: str
    version: str
    title: str
    heading: str
    chunk_id: str
    text: str
    #: fused: the RRF score; vector: cosine similarity; keyword: BM25 score. Higher is better.
    score: float
    categories: list[str]
    channels: list[str]

    @property
    def citation(self) -> str:
        return f"{self.sop_id} v{self.version} § {self.heading}"


def _check_filter(values: list[str] | None, allowed: tuple[str, ...], what: str) -> list[str]:
    values = list(dict.fromkeys(values or []))
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; allowed: {', '.join(allowed)}")
    return values


def _where(categories: list[str], channels: list[str]) -> dict[str, Any] | None:
    """Chroma filter: any of the categories AND any of the channels (one operator per dict)."""
    clauses: list[dict[str, Any]] = []
    for prefix, values in ((CATEGORY_FLAG, categories), (CHANNEL_FLAG, channels)):
        terms = [{f"{prefix}{v}": True} for v in values]
        if len(terms) == 1:
            clauses.append(terms[0])
        elif terms:
            clauses.append({"$or": terms})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class KnowledgeBase:
    """An opened index: the Chroma collection plus an in-memory keyword index of it."""

    def __init__(
        self, config: KBConfig, embedding_function: MiniLMEmbeddingFunction | None = None
    ) -> None:
        self.config = config
        self.embedding_function = embedding_function or MiniLMEmbeddingFunction()
        self._collection: Collection = open_collection(
            open_client(config), config.collection, self.embedding_function
        )
        self._lock = threading.Lock()
        self._ids: list[str] = []
        self._position: dict[str, int] = {}
        self._docs: list[str] = []
        self._metas: list[dict[str, Any]] = []
        self._bm25 = BM25Index([])
        self._glossary = Glossary([])
        self._fingerprint: str | None = None
        self._checked_at = 0.0
        self.refresh()

    # -- keeping the keyword side in step with the collection ----------------------------

    def refresh(self) -> None:
        """Reload every passage from the collection and rebuild the keyword index."""
        with self._lock:
            got = self._collection.get(where={"kind": SECTION}, include=["documents", "metadatas"])
            metas = [dict(m or {}) for m in (got["metadatas"] or [])]
            docs = list(got["documents"] or [])
            self._ids = list(got["ids"])
            self._position = {cid: i for i, cid in enumerate(self._ids)}
            self._docs = docs
            self._metas = metas
            self._bm25 = BM25Index([
                search_text(str(m.get("title", "")), str(m.get("heading", "")), d)
                for m, d in zip(metas, docs)
            ])
            collection_meta = self._fresh_collection_metadata()
            self._glossary = Glossary(json.loads(str(collection_meta.get("glossary", "[]"))))
            self._fingerprint = collection_meta.get("fingerprint")
            self._checked_at = time.monotonic()

    def _fresh_collection_metadata(self) -> dict[str, Any]:
        # Chroma caches the collection model; fetch it again so a re-index is seen.
        fresh = open_client(self.config).get_collection(
            self.config.collection, embedding_function=self.embedding_function  # type: ignore[arg-type]
        )
        return dict(fresh.metadata or {})

    def _refresh_if_stale(self) -> None:
        if time.monotonic() - self._checked_at < REFRESH_AFTER_S:
            return
        self._checked_at = time.monotonic()
        if self._fresh_collection_metadata().get("fingerprint") != self._fingerprint:
            self.refresh()

    def __len__(self) -> int:
        return len(self._ids)

    def chunk_ids(self) -> list[str]:
        """Every indexed passage id, in collection order."""
        return list(self._ids)

    def passage_title(self, chunk_id: str) -> str:
        """The SOP title and heading path of one passage."""
        meta = self._metas[self._ids.index(chunk_id)]
        return f"{meta.get('title', '')} - {meta.get('heading', '')}"

    def passage_text(self, chunk_id: str) -> str:
        """The text the retrievers see for one passage (title, heading and body)."""
        i = self._ids.index(chunk_id)
        meta = self._metas[i]
        return search_text(str(meta.get("title", "")), str(meta.get("heading", "")), self._docs[i])

    # -- retrieval ----------------------------------------------------------------------

    def search(
        self,
        query: str,
        categories: list[str] | None = None,
        channels: list[str] | None = None,
        k: int = 5,
        *,
        mode: SearchMode = "fused",
    ) -> list[Passage]:
        """The ``k`` best passages for ``query`` among those matching the filters.

        Categories (any of) and channels (any of) narrow the candidates before ranking.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        cats = _check_filter(categories, CATEGORIES, "categories")
        chans = _check_filter(channels, CHANNELS, "channels")
        if not query.strip():
            return []
        self._refresh_if_stale()
        pool = max(CANDIDATES, 3 * k)
        if mode == "vector":
            ranked = self._vector([query], cats, chans, pool)[0]
        elif mode == "keyword":
            ranked = self._keyword(query, cats, chans, pool)
        else:
            # Three rankings: the query's vector, the vector of the query spelled out with
            # the glossary (bridges "commission" -> "listing fee"), and BM25 with the same
            # expansion. The expanded text is only embedded when the glossary added words.
            expanded = self._glossary.expand_text(query)
            texts = [query] if expanded == query else [query, expanded]
            vectors = self._vector(texts, cats, chans, pool)
            if len(vectors) == 1:
                vectors.append(vectors[0])  # same weight as when expansion adds nothing new
            keyword = self._keyword(query, cats, chans, pool)
            ranked = _rrf([(vectors[0], 1.0), (vectors[1], 1.0), (keyword, 1.0)])
            ranked = self._promote_exact(query, ranked, keyword)
        return [self._passage(doc, score) for doc, score in ranked[:k]]

    def _vector(
        self, texts: list[str], cats: list[str], chans: list[str], n: int
    ) -> list[list[tuple[int, float]]]:
        """One ranking of sections per text: best similarity of the section or its items."""
        if not self._ids:
            return [[] for _ in texts]
        result = self._collection.query(
            query_embeddings=self.embedding_function(texts),  # type: ignore[arg-type]
            n_results=n * RECORDS_PER_SECTION,
            where=_where(cats, chans),
            # Ids only: fetching metadata costs Chroma ~0.2 ms a record; an item's id is
            # "<section id>@<n>", which is all we need to find its section.
            include=["distances"],
        )
        rankings: list[list[tuple[int, float]]] = []
        for ids, distances in zip(result["ids"], result["distances"] or []):
            best: dict[int, float] = {}
            for record_id, dist in zip(ids, distances):
                # Sections unknown to the keyword side mean a re-index is under way: skip.
                doc = self._position.get(record_id.split(UNIT_SEPARATOR, 1)[0])
                if doc is not None and doc not in best:  # results come best first
                    best[doc] = 1.0 - float(dist)  # cosine distance -> similarity
            rankings.append(sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:n])
        return rankings

    def _keyword(self, query: str, cats: list[str], chans: list[str], n: int) -> list[tuple[int, float]]:
        allowed: set[int] | None = None
        if cats or chans:
            allowed = {
                i for i, m in enumerate(self._metas)
                if (not cats or any(m.get(f"{CATEGORY_FLAG}{c}") for c in cats))
                and (not chans or any(m.get(f"{CHANNEL_FLAG}{c}") for c in chans))
            }
        terms = self._glossary.expand(query)
        return [(h.doc, h.score) for h in self._bm25.search(terms, allowed=allowed, k=n)]

    def _exact_terms(self, query: str) -> list[str]:
        """Identifiers of the query (``snake_case``, ``CamelCase``, ``ACRONYM``) that are rare
        in the corpus (in at most 5% of the passages): the terms a user means literally."""
        limit = max(1, int(EXACT_TERM_MAX_SHARE * len(self._ids)))
        terms = []
        for raw in _RAW_TOKEN_RE.findall(query):
            if _IDENTIFIER_RE.search(raw):
                df = self._bm25.document_frequency(raw.lower())
                if 0 < df <= limit:
                    terms.append(raw)
        return terms

    def _promote_exact(
        self, query: str, ranked: list[tuple[int, float]], keyword: list[tuple[int, float]]
    ) -> list[tuple[int, float]]:
        """Make sure each rare identifier of the query is named by one of the top passages.

        A sentence model cannot read ``DISBURSEMENT_FAILURE`` or ``charge_side``; two vector
        rankings can outvote the keyword one. For each such term, the best keyword hit that
        contains it is moved into the top ``EXACT_TERM_TOP`` if it is not already there.
        """
        for term in self._exact_terms(query)[:EXACT_TERM_TOP]:
            top = [doc for doc, _ in ranked[:EXACT_TERM_TOP]]
            holders = self._bm25.documents_with(term.lower())
            if any(doc in holders for doc in top):
                continue
            best = next((doc for doc, _ in keyword if doc in holders), None)
            if best is None:
                continue  # filtered out: nothing to promote
            entry = next(item for item in ranked if item[0] == best)
            rest = [item for item in ranked if item[0] != best]
            slot = min(EXACT_TERM_TOP - 1, len(rest))
            # Keep scores non-increasing: take the score of the passage it overtakes.
            promoted = (best, rest[slot][1] if slot < len(rest) else entry[1])
            ranked = rest[:slot] + [promoted] + rest[slot:]
        return ranked

    def _passage(self, doc: int, score: float) -> Passage:
        meta = self._metas[doc]
        return Passage(
            sop_id=str(meta["sop_id"]),
            version=str(meta["version"]),
            title=str(meta.get("title", "")),
            heading=str(meta["heading"]),
            chunk_id=self._ids[doc],
            text=self._docs[doc],
            score=round(score, 6),
            categories=[c for c in str(meta.get("categories", "")).split(",") if c],
            channels=[c for c in str(meta.get("channels", "")).split(",") if c],
        )


def _rrf(rankings: list[tuple[list[tuple[int, float]], float]]) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion: score = sum over rankings of weight / (RRF_K + rank).

    Rank-based, so it needs no calibration between cosine and BM25 scores; a passage that
    only one retriever finds (an exact identifier, a paraphrase) still surfaces.
    """
    fused: dict[int, float] = {}
    for ranking, weight in rankings:
        for rank, (doc, _) in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + weight / (RRF_K + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


@lru_cache(maxsize=8)
def open_knowledge_base(config: KBConfig) -> KnowledgeBase:
    """One opened knowledge base per configuration, for the life of the process."""
    return KnowledgeBase(config)


def search(
    query: str,
    categories: list[str] | None = None,
    channels: list[str] | None = None,
    k: int = 5,
    *,
    config: KBConfig,
    mode: SearchMode = "fused",
) -> list[Passage]:
    """Search the SOP index described by ``config`` (see :class:`KnowledgeBase.search`)."""
    return open_knowledge_base(config).search(query, categories, channels, k, mode=mode)
