"""Retrieval: vector search (Chroma) fused with BM25 by reciprocal rank, with filters.

``search(query, categories=…, channels=…, k=…, config=…)`` is what the tools and the CLI
call. It returns :class:`Passage` objects carrying the SOP id, version and heading that an
audit record cites.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any, Literal

from chromadb.api.models.Collection import Collection
from pydantic import BaseModel, ConfigDict

from knowledge.chunking import search_text
from knowledge.embedding import MiniLMEmbeddingFunction
from knowledge.index import CATEGORY_FLAG, CHANNEL_FLAG, KBConfig, open_client, open_collection
from knowledge.keyword import BM25Index
from knowledge.sop import CATEGORIES, CHANNELS

SearchMode = Literal["fused", "vector", "keyword"]
#: Reciprocal-rank-fusion constant (Cormack et al. 2009): damps the weight of the top ranks.
RRF_K = 60
#: How many candidates each retriever hands to the fusion, at least.
CANDIDATES = 30
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
        self._docs: list[str] = []
        self._metas: list[dict[str, Any]] = []
        self._bm25 = BM25Index([])
        self._fingerprint: str | None = None
        self._checked_at = 0.0
        self.refresh()

    # -- keeping the keyword side in step with the collection ----------------------------

    def refresh(self) -> None:
        """Reload every passage from the collection and rebuild the keyword index."""
        with self._lock:
            got = self._collection.get(include=["documents", "metadatas"])
            metas = [dict(m or {}) for m in (got["metadatas"] or [])]
            docs = list(got["documents"] or [])
            self._ids = list(got["ids"])
            self._docs = docs
            self._metas = metas
            self._bm25 = BM25Index([
                search_text(str(m.get("title", "")), str(m.get("heading", "")), d)
                for m, d in zip(metas, docs)
            ])
            self._fingerprint = self._current_fingerprint()
            self._checked_at = time.monotonic()

    def _current_fingerprint(self) -> str | None:
        # Chroma caches the collection model; fetch it again so a re-index is seen.
        fresh = open_client(self.config).get_collection(
            self.config.collection, embedding_function=self.embedding_function  # type: ignore[arg-type]
        )
        return (fresh.metadata or {}).get("fingerprint")

    def _refresh_if_stale(self) -> None:
        if time.monotonic() - self._checked_at < REFRESH_AFTER_S:
            return
        self._checked_at = time.monotonic()
        if self._current_fingerprint() != self._fingerprint:
            self.refresh()

    def __len__(self) -> int:
        return len(self._ids)

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
        vector: list[tuple[int, float]] = []
        keyword: list[tuple[int, float]] = []
        if mode in ("vector", "fused"):
            vector = self._vector(query, cats, chans, pool)
        if mode in ("keyword", "fused"):
            keyword = self._keyword(query, cats, chans, pool)
        if mode == "vector":
            ranked = vector
        elif mode == "keyword":
            ranked = keyword
        else:
            ranked = _rrf([vector, keyword])
        return [self._passage(doc, score) for doc, score in ranked[:k]]

    def _vector(self, query: str, cats: list[str], chans: list[str], n: int) -> list[tuple[int, float]]:
        if not self._ids:
            return []
        embedding = self.embedding_function([query])[0]
        result = self._collection.query(
            query_embeddings=[embedding],  # type: ignore[list-item]
            n_results=min(n, len(self._ids)),
            where=_where(cats, chans),
            include=["distances"],
        )
        position = {cid: i for i, cid in enumerate(self._ids)}
        distances = (result["distances"] or [[]])[0]
        # Cosine distance -> similarity; ids unknown to the keyword side mean a stale cache.
        return [
            (position[cid], 1.0 - float(dist))
            for cid, dist in zip(result["ids"][0], distances)
            if cid in position
        ]

    def _keyword(self, query: str, cats: list[str], chans: list[str], n: int) -> list[tuple[int, float]]:
        allowed: set[int] | None = None
        if cats or chans:
            allowed = {
                i for i, m in enumerate(self._metas)
                if (not cats or any(m.get(f"{CATEGORY_FLAG}{c}") for c in cats))
                and (not chans or any(m.get(f"{CHANNEL_FLAG}{c}") for c in chans))
            }
        return [(h.doc, h.score) for h in self._bm25.search(query, allowed=allowed, k=n)]

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


def _rrf(rankings: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: score = sum over lists of 1 / (RRF_K + rank).

    Rank-based, so it needs no calibration between cosine and BM25 scores; a passage that
    only one retriever finds (an exact identifier, a paraphrase) still surfaces.
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (doc, _) in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (RRF_K + rank)
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
