"""The knowledge base: the SOP corpus, its offline embeddings, the Chroma index, retrieval.

This room imports nothing else of ours; the caller passes folders and a :class:`KBConfig`.

    from knowledge import KBConfig, build_index, search
    config = KBConfig(chroma_path=Path(".triage/chroma"), collection="sops")
    build_index([Path("knowledge/sops")], config=config)
    for p in search("payout bounced", categories=["disbursement_failure"], config=config):
        print(p.citation, p.score)
"""

from pathlib import Path

from knowledge.embedding import MiniLMEmbeddingFunction
from knowledge.index import IndexReport, KBConfig, build_index
from knowledge.search import KnowledgeBase, Passage, SearchMode, open_knowledge_base, search
from knowledge.sop import CATEGORIES, CHANNELS, SOP, Corpus, SOPError, load_corpus

#: The SOPs shipped with the product (a company adds or replaces folders in its settings).
BUILTIN_SOP_DIR = Path(__file__).resolve().parent / "sops"

__all__ = [
    "BUILTIN_SOP_DIR",
    "CATEGORIES",
    "CHANNELS",
    "SOP",
    "Corpus",
    "IndexReport",
    "KBConfig",
    "KnowledgeBase",
    "MiniLMEmbeddingFunction",
    "Passage",
    "SOPError",
    "SearchMode",
    "build_index",
    "load_corpus",
    "open_knowledge_base",
    "search",
]
