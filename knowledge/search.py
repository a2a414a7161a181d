"""Retrieval: vector search fused with BM25, with filters, over the SOP index in Chroma.

``search(query, categories=…, channels=…, k=…, config=…)`` is what the tools and the CLI
call. It returns :class:`Passage` objects carrying the SOP id, version and heading that an
audit record cites.

Chroma stores the passages, their vectors and metadata (on disk, or on a server shared by
every worker). A searcher loads all of it once (a SOP corpus is a few thousand vectors, a few
MB) and searches in memory: one matrix-vector product is exact and takes well under a
millisecond, where a Chroma query costs several. It reloads when the index changes.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Literal

import numpy as np
from chromadb.api.models.Collection import Collection
from pydantic import BaseModel, ConfigDict

from knowledge.chunking import search_text, unit_search_text
from knowledge.embedding import MiniLMEmbeddingFunction
from knowledge.fusion import Ranking, Signals, fuse, promote_exact
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
from knowledge.normalize import annotate
from knowledge.roles import ROLES, asked_roles, section_roles
from knowledge.spelling import Speller
from knowledge.sop import CATEGORIES, CHANNELS

SearchMode = Literal["fused", "vector", "keyword"]
#: How many sections the exact-identifier guarantee looks at (see ``fusion.promote_exact``).
EXACT_POOL = 30
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
    #: fused: the weighted sum of the signals (``fusion.fuse``); vector: cosine similarity;
    #: keyword: BM25 as a share of a whole-query match. Higher is better.
    score: float
    categories: list[str]
    channels: list[str]

    @property
    def citation(self) -> str:
        return f"{self.sop_id} v{self.version} § {self.heading}"


@dataclass(frozen=True)
class _Snapshot:
    """The index as last loaded, swapped whole so a search never sees half a refresh.

    Sections (the passages that are cited) are numbered in SOP order. Each vector record (a
    section or one of its items) and each keyword item points to its section by number.
    """

    ids: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    metas: tuple[dict[str, Any], ...] = ()
    #: One row per vector record, sorted by section; ``record_starts[i]`` is the first row
    #: of section ``i`` (every section has at least its own record).
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    record_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    bm25: BM25Index = field(default_factory=lambda: BM25Index([]))
    #: BM25 over the items of the sections, and the section of each item.
    item_bm25: BM25Index = field(default_factory=lambda: BM25Index([]))
    item_section: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    glossary: Glossary = field(default_factory=lambda: Glossary([]))
    #: Corrects typos of a query against the words of the indexed runbooks and glossary.
    speller: Speller = field(default_factory=lambda: Speller([]))
    #: sections x ``roles.ROLES``: the kinds of answer each section gives (from its heading).
    roles: np.ndarray = field(default_factory=lambda: np.zeros((0, len(ROLES)), dtype=bool))
    #: Where each runbook's sections start (sections are sorted by SOP id).
    runbook_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    fingerprint: str | None = None

    @cached_property
    def position(self) -> dict[str, int]:
        """Section id -> index in ``ids``."""
        return {cid: i for i, cid in enumerate(self.ids)}

    def text_for_retrieval(self, doc: int) -> str:
        meta = self.metas[doc]
        return search_text(str(meta.get("title", "")), str(meta.get("heading", "")), self.docs[doc])

    def allowed(self, cats: list[str], chans: list[str]) -> np.ndarray | None:
        """Mask of the sections matching the filters (any category and any channel)."""
        if not cats and not chans:
            return None
        return np.array([
            (not cats or any(m.get(f"{CATEGORY_FLAG}{c}") for c in cats))
            and (not chans or any(m.get(f"{CHANNEL_FLAG}{c}") for c in chans))
            for m in self.metas
        ], dtype=bool)


def _check_filter(values: list[str] | None, allowed: tuple[str, ...], what: str) -> list[str]:
    values = list(dict.fromkeys(values or []))
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; allowed: {', '.join(allowed)}")
    return values


def _document_order(row: tuple[str, str, Any]) -> tuple[str, int]:
    """Sort key of an (id, document, metadata) row: SOP id, then position in the SOP."""
    meta = row[2] or {}
    return str(meta.get("sop_id", "")), int(meta.get("position", 0))


def _item_number(record_id: str) -> int:
    """``sop#section@3`` -> 3 (items keep their order within a section); a section -> 0."""
    _, sep, number = record_id.rpartition(UNIT_SEPARATOR)
    return int(number) if sep and number.isdigit() else 0


def _scaled(scores: np.ndarray, index: BM25Index, terms: dict[str, float]) -> np.ndarray:
    """BM25 scores divided by what a passage matching the whole query would score (0-1,
    more for a passage repeating the query's words): how much of the query a passage
    matches. Dividing by the best score instead would make a passage matching a single
    common word of the query look like a perfect match."""
    full = index.full_match(terms)
    return scores / full if full > 0 else scores


def _ranking(score: np.ndarray, n: int) -> Ranking:
    """The ``n`` best sections (finite scores only), best first, ties in SOP order."""
    order = np.lexsort((np.arange(len(score)), -score))[:n]
    return [(int(d), float(score[d])) for d in order if np.isfinite(score[d])]


@dataclass(frozen=True)
class _Row:
    """One record as stored in Chroma: a section, or one item of a section."""

    record_id: str
    document: str
    meta: dict[str, Any]
    vector: Any

    @property
    def section_id(self) -> str:
        return str(self.meta.get("chunk_id", self.record_id))


def _snapshot(rows: list[_Row], collection_meta: dict[str, Any]) -> _Snapshot:
    """Build the in-memory indexes from every stored record."""
    # Document order (the tie-breaker of every ranking) follows the SOPs, not the order
    # Chroma stored them in, so a fresh and an updated index rank alike.
    sections = sorted((r for r in rows if r.meta.get("kind") == SECTION),
                      key=lambda r: _document_order((r.record_id, r.document, r.meta)))
    position = {r.record_id: i for i, r in enumerate(sections)}
    # Every record of a section, the section's own first, then its items in order. A record
    # whose section is missing belongs to a re-index under way: it is skipped.
    records = sorted(
        ((position[r.section_id], r) for r in rows if r.section_id in position),
        key=lambda t: (t[0], t[1].record_id != sections[t[0]].record_id,
                       _item_number(t[1].record_id)),
    )
    items = [(sec, r) for sec, r in records if r.record_id != sections[sec].record_id]
    metas = tuple(r.meta for r in sections)
    dims = len(records[0][1].vector) if records else 0

    def title_heading(meta: dict[str, Any]) -> tuple[str, str]:
        return str(meta.get("title", "")), str(meta.get("heading", ""))

    sop_ids = [str(m.get("sop_id", "")) for m in metas]
    section_texts = [search_text(*title_heading(r.meta), r.document) for r in sections]
    bm25 = BM25Index(section_texts)
    glossary = Glossary(
        json.loads(str(collection_meta.get("glossary", "[]"))),
        abbreviations=json.loads(str(collection_meta.get("abbreviations", "{}"))),
    )
    glossary_words = [p for group in glossary.groups for p in group]

    return _Snapshot(
        ids=tuple(r.record_id for r in sections),
        docs=tuple(r.document for r in sections),
        metas=metas,
        vectors=np.array([r.vector for _, r in records], dtype=np.float32).reshape(
            len(records), dims),
        record_starts=np.searchsorted(np.array([sec for sec, _ in records], dtype=np.int64),
                                      np.arange(len(sections))),
        bm25=bm25,
        item_bm25=BM25Index([unit_search_text(*title_heading(metas[sec]), r.document)
                             for sec, r in items]),
        item_section=np.array([sec for sec, _ in items], dtype=np.int64),
        glossary=glossary,
        speller=Speller(section_texts + glossary_words + list(glossary.abbreviations.values()),
                        stems=bm25.vocabulary()),
        roles=np.array([[role in section_roles(str(m.get("heading", ""))) for role in ROLES]
                        for m in metas], dtype=bool).reshape(len(metas), len(ROLES)),
        runbook_starts=np.array([i for i, sop in enumerate(sop_ids)
                                 if i == 0 or sop != sop_ids[i - 1]], dtype=np.int64),
        fingerprint=collection_meta.get("fingerprint"),
    )


class KnowledgeBase:
    """An opened index: the Chroma collection plus in-memory vector and keyword indexes of it."""

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
        """Reload every record from the collection; rebuild the vector and keyword indexes."""
        with self._lock:
            got = self._collection.get(include=["documents", "metadatas", "embeddings"])
            embeddings = got["embeddings"] if got["embeddings"] is not None else []
            rows = [
                _Row(record_id, document or "", dict(meta or {}), vector)
                for record_id, document, meta, vector in zip(
                    got["ids"], got["documents"] or [], got["metadatas"] or [], embeddings,
                    strict=True,
                )
            ]
            self._snap = _snapshot(rows, self._fresh_collection_metadata())
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
        if not snap.ids:
            return []
        allowed = snap.allowed(cats, chans)
        signals = self.signals(query, vector=mode != "keyword", keyword=mode != "vector",
                               snap=snap)
        if mode == "vector":
            score = signals.vector
        elif mode == "keyword":
            score = signals.keyword
        else:
            score = fuse(signals)
        if allowed is not None:
            score = np.where(allowed, score, -np.inf)
        if mode == "keyword":  # a passage sharing no term with the query is no keyword hit
            score = np.where(score > 0, score, -np.inf)
        ranked = _ranking(score, max(k, EXACT_POOL))
        if mode == "fused":
            hits = signals.keyword > 0 if allowed is None else allowed & (signals.keyword > 0)
            keyword = _ranking(np.where(hits, signals.keyword, -np.inf), EXACT_POOL)
            ranked = promote_exact(ranked, keyword, query, snap.bm25)
        return [self._passage(snap, doc, score) for doc, score in ranked[:k]]

    def signals(
        self,
        query: str,
        *,
        vector: bool = True,
        keyword: bool = True,
        snap: _Snapshot | None = None,
    ) -> Signals:
        """The evidence each retriever has for every section (what fusion weighs; the tuner
        of the fusion weights reads it too).

        * ``vector``: cosine similarity of the query to the section's best record (the
          section itself or one of its items: the item finds the section, "small-to-big");
        * ``keyword``: BM25 of the section (title, heading and text), the query expanded
          with the glossary;
        * ``item_keyword``: BM25 of the section's best item, so that one list item that
          matches well is not drowned in a long section;
        * ``role``: 1 for the sections of the kind the query asks for (``knowledge.roles``),
          with the runbook grouping the fusion's runbook-level score needs.

        Keyword scores are divided by what a passage matching the whole (expanded) query
        would score, so they say how much of the query a passage matches, on the same scale
        whatever the query's length. Chat shorthand ("cust", "mkt") is written out and
        typos are corrected first (``glossary.yaml``'s ``abbreviations``,
        ``knowledge.spelling``), and dates and amounts are also written the runbooks' way
        ("the 30th (last day of the month)", "$14k (USD 14,000)"; ``knowledge.normalize``).
        One model pass per query.
        """
        snap = snap or self._snap
        query = annotate(snap.speller.correct(snap.glossary.write_out(query)))
        n = len(snap.ids)
        zeros = np.zeros(n, dtype=np.float64)
        vec = zeros
        if vector and n:
            query_vector = np.asarray(self.embedding_function([query])[0], dtype=np.float32)
            # The best record of each section (records are grouped by section).
            vec = np.maximum.reduceat(snap.vectors @ query_vector, snap.record_starts)
            vec = vec.astype(np.float64)
        bm = item = zeros
        if keyword and n:
            terms = snap.glossary.expand(query)
            bm = snap.bm25.scores(terms)
            item = np.zeros(n, dtype=np.float64)
            if len(snap.item_section):
                np.maximum.at(item, snap.item_section, snap.item_bm25.scores(terms))
            bm, item = _scaled(bm, snap.bm25, terms), _scaled(item, snap.item_bm25, terms)
        asked = np.array([role in asked_roles(query) for role in ROLES], dtype=bool)
        role = (snap.roles[:, asked].any(axis=1).astype(np.float64) if n and asked.any()
                else zeros)
        return Signals(vector=vec, keyword=bm, item_keyword=item, role=role,
                       runbook_starts=snap.runbook_starts)

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
