"""Retrieval: vector search (Chroma) fused with BM25 by reciprocal rank, with filters.

``search(query, categories=…, channels=…, k=…, config=…)`` is what the tools and the CLI
call. It returns :class:`Passage` objects carrying the SOP id, version and heading that an
audit record cites.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Literal

from chromadb.api.models.Collection import Collection
from pydantic import BaseModel, ConfigDict

from knowledge.chunking import search_text
from knowledge.embedding import MiniLMEmbeddingFunction
from knowledge.fusion import Ranking, promote_exact, rrf
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
#: How many sections each retriever hands to the fusion, at least.
CANDIDATES = 30
#: Vector records fetched per wanted section: a section also has one record per item.
RECORDS_PER_SECTION = 4
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


@dataclass(frozen=True)
class _Snapshot:
    """The sections as last loaded, swapped whole so a search never sees half a refresh."""

    ids: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    metas: tuple[dict[str, Any], ...] = ()
    bm25: BM25Index = field(default_factory=lambda: BM25Index([]))
    glossary: Glossary = field(default_factory=lambda: Glossary([]))
    fingerprint: str | None = None

    @cached_property
    def position(self) -> dict[str, int]:
        """Section id -> index in ``ids``."""
        return {cid: i for i, cid in enumerate(self.ids)}

    def text_for_retrieval(self, doc: int) -> str:
        meta = self.metas[doc]
        return search_text(str(meta.get("title", "")), str(meta.get("heading", "")), self.docs[doc])


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


def _document_order(row: tuple[str, str, Any]) -> tuple[str, int]:
    """Sort key of an (id, document, metadata) row: SOP id, then position in the SOP."""
    meta = row[2] or {}
    return str(meta.get("sop_id", "")), int(meta.get("position", 0))


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
        self._snap = _Snapshot()
        self._checked_at = 0.0
        self.refresh()

    # -- keeping the keyword side in step with the collection ----------------------------

    def refresh(self) -> None:
        """Reload every section from the collection and rebuild the keyword index."""
        with self._lock:
            got = self._collection.get(where={"kind": SECTION}, include=["documents", "metadatas"])
            # Document order (the tie-breaker of every ranking) follows the SOPs, not the
            # order Chroma stored them in, so a fresh and an updated index rank alike.
            rows = sorted(
                zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True),
                key=_document_order,
            )
            ids = tuple(r[0] for r in rows)
            docs = tuple(r[1] for r in rows)
            metas = tuple(dict(r[2] or {}) for r in rows)
            collection_meta = self._fresh_collection_metadata()
            self._snap = _Snapshot(
                ids=ids,
                docs=docs,
                metas=metas,
                bm25=BM25Index([
                    search_text(str(m.get("title", "")), str(m.get("heading", "")), d)
                    for m, d in zip(metas, docs)
                ]),
                glossary=Glossary(json.loads(str(collection_meta.get("glossary", "[]")))),
                fingerprint=collection_meta.get("fingerprint"),
            )
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
        if self._fresh_collection_metadata().get("fingerprint") != self._snap.fingerprint:
            self.refresh()

    # -- what is indexed ----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._snap.ids)

    def chunk_ids(self) -> list[str]:
        """Every indexed passage id, in collection order."""
        return list(self._snap.ids)

    def passage_title(self, chunk_id: str) -> str:
        """The SOP title and heading path of one passage."""
        meta = self._snap.metas[self._snap.position[chunk_id]]
        return f"{meta.get('title', '')} - {meta.get('heading', '')}"

    def passage_text(self, chunk_id: str) -> str:
        """The text the retrievers see for one passage (title, heading and body)."""
        return self._snap.text_for_retrieval(self._snap.position[chunk_id])

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
        ``mode`` "vector" and "keyword" run one retriever alone (for the eval).
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        cats = _check_filter(categories, CATEGORIES, "categories")
        chans = _check_filter(channels, CHANNELS, "channels")
        if not query.strip():
            return []
        self._refresh_if_stale()
        snap = self._snap
        pool = max(CANDIDATES, 3 * k)
        if mode == "vector":
            ranked = self._vector(snap, [query], cats, chans, pool)[0]
        elif mode == "keyword":
            ranked = self._keyword(snap, query, cats, chans, pool)
        else:
            # Three rankings: the query's vector, the vector of the query spelled out with
            # glossary synonyms (bridges "commission" -> "listing fee"), and BM25 with the
            # same expansion. When the glossary adds nothing, the query's own vector counts
            # twice, so the vector/keyword balance does not depend on the glossary.
            expanded = snap.glossary.expand_text(query)
            texts = [query] if expanded == query else [query, expanded]
            vectors = self._vector(snap, texts, cats, chans, pool)
            keyword = self._keyword(snap, query, cats, chans, pool)
            ranked = rrf([(vectors[0], 1.0), (vectors[-1], 1.0), (keyword, 1.0)])
            ranked = promote_exact(ranked, keyword, query, snap.bm25)
        return [self._passage(snap, doc, score) for doc, score in ranked[:k]]

    def _vector(
        self, snap: _Snapshot, texts: list[str], cats: list[str], chans: list[str], n: int
    ) -> list[Ranking]:
        """One ranking of sections per text: best similarity of the section or its items."""
        if not snap.ids:
            return [[] for _ in texts]
        result = self._collection.query(
            query_embeddings=self.embedding_function(texts),  # type: ignore[arg-type]
            n_results=n * RECORDS_PER_SECTION,
            where=_where(cats, chans),
            # Ids only: fetching metadata costs Chroma ~0.2 ms a record; an item's id is
            # "<section id>@<n>", which is all we need to find its section.
            include=["distances"],
        )
        rankings: list[Ranking] = []
        for ids, distances in zip(result["ids"], result["distances"] or []):
            best: dict[int, float] = {}
            for record_id, dist in zip(ids, distances):
                # A section unknown to the snapshot means a re-index is under way: skip it.
                doc = snap.position.get(record_id.split(UNIT_SEPARATOR, 1)[0])
                if doc is not None and doc not in best:  # results come best first
                    best[doc] = 1.0 - float(dist)  # cosine distance -> similarity
            rankings.append(sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:n])
        return rankings

    @staticmethod
    def _keyword(
        snap: _Snapshot, query: str, cats: list[str], chans: list[str], n: int
    ) -> Ranking:
        allowed: set[int] | None = None
        if cats or chans:
            allowed = {
                i for i, m in enumerate(snap.metas)
                if (not cats or any(m.get(f"{CATEGORY_FLAG}{c}") for c in cats))
                and (not chans or any(m.get(f"{CHANNEL_FLAG}{c}") for c in chans))
            }
        terms = snap.glossary.expand(query)
        return [(h.doc, h.score) for h in snap.bm25.search(terms, allowed=allowed, k=n)]

    @staticmethod
    def _passage(snap: _Snapshot, doc: int, score: float) -> Passage:
        meta = snap.metas[doc]
        return Passage(
            sop_id=str(meta["sop_id"]),
            version=str(meta["version"]),
            title=str(meta.get("title", "")),
            heading=str(meta["heading"]),
            chunk_id=snap.ids[doc],
            text=snap.docs[doc],
            score=round(score, 6),
            categories=[c for c in str(meta.get("categories", "")).split(",") if c],
            channels=[c for c in str(meta.get("channels", "")).split(",") if c],
        )


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
    """Search the SOP index described by ``config`` (see :meth:`KnowledgeBase.search`)."""
    return open_knowledge_base(config).search(query, categories, channels, k, mode=mode)
