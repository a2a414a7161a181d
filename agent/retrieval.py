"""SOP passages for a case's candidate categories and channel, cached per (category, channel).

Every case of the same category and channel gets the same passages, so they are searched
once per process: the query is the category's own runbook question, not the case text. That
keeps retrieval out of the per-case cost and the cited chunk ids stable across a batch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from agent.llm.base import SopPassage
from billing.settings import Settings

#: Passages per candidate category; the first candidate gets more (most likely first).
PER_CATEGORY = (3, 2, 1)
MAX_PASSAGES = 8


class SopRetriever(Protocol):
    """Finds SOP passages for candidate categories (most likely first) and a channel."""

    def __call__(self, categories: Sequence[str], channel: str | None) -> list[SopPassage]: ...


def category_query(category: str) -> str:
    """The question asked of the runbooks for a category."""
    words = category.replace("_", " ")
    return f"{words}: decision steps, evidence to check, resolution and escalation"


class CachedRetriever:
    """Wraps a per-category search with a (category, channel) cache and merges the results."""

    def __init__(self, search_one: SearchOne) -> None:
        self._search_one = search_one
        self._cache: dict[tuple[str, str | None], list[SopPassage]] = {}
        self._lock = threading.Lock()
        self.searches = 0  # how many searches actually ran (the rest came from the cache)

    def passages(self, category: str, channel: str | None, k: int) -> list[SopPassage]:
        """The top `k` passages for one category and channel (searched once, then cached)."""
        key = (category, channel)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = self._search_one(category, channel, max(PER_CATEGORY))
            with self._lock:
                self._cache[key] = cached
                self.searches += 1
        return cached[:k]

    def __call__(self, categories: Sequence[str], channel: str | None) -> list[SopPassage]:
        merged: dict[str, SopPassage] = {}
        for i, category in enumerate(categories):
            k = PER_CATEGORY[min(i, len(PER_CATEGORY) - 1)]
            for passage in self.passages(category, channel, k):
                merged.setdefault(passage.chunk_id, passage)
        return list(merged.values())[:MAX_PASSAGES]


class SearchOne(Protocol):
    def __call__(self, category: str, channel: str | None, k: int) -> list[SopPassage]: ...


def ensure_knowledge_index(settings: Settings) -> None:
    """Build the configured SOP index from the SOP folders if it is empty. `triage batch
    --workers` calls it before its processes start, so they do not all build it at once."""
    import knowledge

    config = _kb_config(settings)
    kb = knowledge.open_knowledge_base(config)
    if len(kb) == 0:
        knowledge.build_index(list(settings.knowledge.sop_dirs), config=config)
        kb.refresh()


def _kb_config(settings: Settings) -> Any:
    import knowledge

    return knowledge.KBConfig(chroma_path=settings.knowledge.chroma_path, chroma_url=settings.knowledge.chroma_url,
                              collection=settings.knowledge.collection)


def knowledge_retriever(settings: Settings) -> CachedRetriever:
    """The retriever over the configured knowledge index (built from the SOP folders if empty)."""
    import knowledge  # the embedding model loads on first use, not at import of the agent

    config = _kb_config(settings)
    state: dict[str, bool] = {"ready": False}
    ready_lock = threading.Lock()

    def ensure_index() -> None:
        with ready_lock:
            if not state["ready"]:
                ensure_knowledge_index(settings)
                state["ready"] = True

    def search_one(category: str, channel: str | None, k: int) -> list[SopPassage]:
        ensure_index()
        cats = [category] if category in knowledge.CATEGORIES else None
        chans = [channel] if channel in knowledge.CHANNELS else None
        found = knowledge.search(category_query(category), categories=cats, channels=chans, k=k, config=config)
        return [
            SopPassage(chunk_id=p.chunk_id, sop_id=p.sop_id, version=p.version, heading=p.heading,
                       text=p.text, score=p.score, categories=list(p.categories))
            for p in found
        ]

    return CachedRetriever(search_one)
