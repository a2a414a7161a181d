"""The Chroma index of SOP passages, kept up to date incrementally by content hash.

``build_index`` compares the chunks of the SOP folders with what the collection holds:
new chunks are embedded and added, changed ones replaced, vanished ones deleted, and
unchanged ones are not re-embedded. Chroma runs embedded in a folder by default, or as a
server reached over HTTP when a URL is configured (the embedded client is not process-safe:
one writer at a time, or use the server).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings
from pydantic import BaseModel

from knowledge.chunking import Chunk, chunk_sop
from knowledge.embedding import MiniLMEmbeddingFunction
from knowledge.keyword import load_abbreviations, load_glossary
from knowledge.sop import load_corpus

#: Bumped when the stored metadata layout changes (forces a rebuild of every chunk).
SCHEMA_VERSION = "3"
#: ``kind`` of a record: the section itself (cited, keyword-indexed) or one of its items
#: (extra vectors that lead to the section).
SECTION = "section"
UNIT = "unit"
#: Cosine space. ``search.py`` scores every vector in memory (exact), so the HNSW graph only
#: serves whoever queries the collection directly; a wide graph keeps that near-exact too.
HNSW = {"space": "cosine", "ef_construction": 400, "ef_search": 400, "max_neighbors": 32}
#: An item's record id is ``<section id>@<n>`` (section ids never contain "@").
UNIT_SEPARATOR = "@"
#: Metadata flags used by filters: ``cat_<slug>: True`` / ``ch_<slug>: True``. Booleans,
#: not arrays, so that filters work the same on every Chroma server version.
CATEGORY_FLAG = "cat_"
CHANNEL_FLAG = "ch_"


@dataclass(frozen=True)
class KBConfig:
    """Where the index lives. Built by the caller from its settings; nothing is read here."""

    chroma_path: Path = Path(".triage/chroma")
    #: e.g. ``http://chroma:8000``; when set, the HTTP client is used and ``chroma_path`` ignored.
    chroma_url: str | None = None
    collection: str = "sops"
    #: Extra HTTP headers for a Chroma server (e.g. an auth token); not part of equality.
    headers: tuple[tuple[str, str], ...] = field(default=(), compare=False)


class IndexReport(BaseModel):
    """What an index run changed."""

    sops: int
    chunks: int
    added: int
    updated: int
    unchanged: int
    deleted: int
    #: ``sop id: replaced file -> replacing file`` for SOPs a later folder overrode.
    overridden: list[str] = []


def open_client(config: KBConfig) -> ClientAPI:
    """A persistent client on ``chroma_path``, or an HTTP client when ``chroma_url`` is set."""
    settings = Settings(anonymized_telemetry=False)
    if config.chroma_url:
        url = urlparse(config.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(
                f"chroma_url must look like http://host:8000, got {config.chroma_url!r}"
            )
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            headers=dict(config.headers) or None,
            settings=settings,
        )
    config.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(config.chroma_path), settings=settings)


def open_collection(
    client: ClientAPI, name: str, embedding_function: MiniLMEmbeddingFunction
) -> Collection:
    """The SOP collection, always with our embedding function (never Chroma's default)."""
    return client.get_or_create_collection(
        name=name,
        embedding_function=embedding_function,  # type: ignore[arg-type]
        configuration={"hnsw": HNSW},
        metadata={"schema": SCHEMA_VERSION, "embedding": embedding_function.name()},
    )


def chunk_metadata(chunk: Chunk, content_hash: str, kind: str = SECTION) -> dict[str, Any]:
    """Flat metadata for one record: what a citation needs, plus the filter flags."""
    meta: dict[str, Any] = {
        "kind": kind,
        "chunk_id": chunk.chunk_id,
        "sop_id": chunk.sop_id,
        "version": chunk.version,
        "title": chunk.title,
        "heading": chunk.heading,
        "categories": ",".join(chunk.categories),
        "channels": ",".join(chunk.channels),
        "source": chunk.source,
        "position": chunk.position,
        "content_hash": content_hash,
    }
    meta.update({f"{CATEGORY_FLAG}{c}": True for c in chunk.categories})
    meta.update({f"{CHANNEL_FLAG}{c}": True for c in chunk.channels})
    return meta


def _existing_hashes(collection: Collection) -> dict[str, str]:
    """Content hash per stored section (records of an older layout count as changed)."""
    got = collection.get(include=["metadatas"])
    hashes: dict[str, str] = {}
    for record_id, meta in zip(got["ids"], got["metadatas"] or []):
        meta = meta or {}
        chunk_id = str(meta.get("chunk_id", record_id))
        if meta.get("kind") == SECTION:
            hashes[chunk_id] = str(meta.get("content_hash", ""))
        else:
            hashes.setdefault(chunk_id, "")
    return hashes


def _records(chunk: Chunk, content_hash: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(id, text to embed, document, metadata) of a section and of each of its items."""
    records = [(chunk.chunk_id, chunk.search_text, chunk.text,
                chunk_metadata(chunk, content_hash, SECTION))]
    for i, unit in enumerate(chunk.unit_texts, start=1):
        records.append((f"{chunk.chunk_id}{UNIT_SEPARATOR}{i}", unit,
                        unit.removeprefix(f"{chunk.heading}: "),
                        chunk_metadata(chunk, content_hash, UNIT)))
    return records


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def build_index(
    sop_dirs: list[Path],
    *,
    config: KBConfig,
    embedding_function: MiniLMEmbeddingFunction | None = None,
) -> IndexReport:
    """Bring the collection in line with the SOP folders, embedding only what changed.

    The SOPs are all parsed and validated before anything is written, so a bad file stops
    the run with the index untouched.
    """
    corpus = load_corpus(sop_dirs)
    glossary = load_glossary(sop_dirs)
    abbreviations = load_abbreviations(sop_dirs)
    chunks = [c for sop in corpus.sops for c in chunk_sop(sop)]
    # Indexing embeds hundreds of texts in batches: there, every core helps.
    ef = embedding_function or MiniLMEmbeddingFunction(threads=os.cpu_count() or 1)
    model = f"{ef.name()}:{SCHEMA_VERSION}"
    wanted = {c.chunk_id: (c, c.content_hash(model)) for c in chunks}

    client = open_client(config)
    collection = open_collection(client, config.collection, ef)
    existing = _existing_hashes(collection)

    stale = [cid for cid in existing if cid not in wanted]
    changed = [cid for cid, (_, h) in wanted.items() if cid in existing and existing[cid] != h]
    new = [cid for cid in wanted if cid not in existing]
    batch = max(1, min(client.get_max_batch_size(), 1000))

    # Changed sections are deleted (with their items) then added, not upserted: an upsert
    # merges metadata and would keep a category flag the SOP no longer has.
    for ids in _batches(stale + changed, 100):
        collection.delete(where={"chunk_id": {"$in": ids}})
    records = [r for cid in changed + new for r in _records(*wanted[cid])]
    for part in _batches(records, batch):
        collection.add(
            ids=[r[0] for r in part],
            embeddings=ef.embed_uncached([r[1] for r in part]),  # type: ignore[arg-type]
            documents=[r[2] for r in part],
            metadatas=[r[3] for r in part],
        )
    # The glossary travels with the index, so every searcher (even one reaching a Chroma
    # server from another machine) expands queries the same way. The fingerprint lets
    # searchers notice that their keyword index is stale.
    glossary_json = json.dumps(glossary, ensure_ascii=False, separators=(",", ":"))
    abbreviations_json = json.dumps(abbreviations, ensure_ascii=False, separators=(",", ":"),
                                    sort_keys=True)
    fingerprint = hashlib.sha256(
        ("".join(f"{cid}={h}" for cid, (_, h) in sorted(wanted.items())) + glossary_json
         + abbreviations_json).encode()
    ).hexdigest()[:16]
    if collection.metadata is None or collection.metadata.get("fingerprint") != fingerprint:
        collection.modify(metadata={
            "schema": SCHEMA_VERSION,
            "embedding": ef.name(),
            "fingerprint": fingerprint,
            "glossary": glossary_json,
            "abbreviations": abbreviations_json,
        })
    return IndexReport(
        sops=len(corpus.sops),
        chunks=len(chunks),
        added=len(new),
        updated=len(changed),
        unchanged=len(wanted) - len(new) - len(changed),
        deleted=len(stale),
        overridden=[f"{sid}: {old} -> {new_}" for sid, old, new_ in corpus.overridden],
    )
