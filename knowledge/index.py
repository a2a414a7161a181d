"""The Chroma index of SOP passages, kept up to date incrementally by content hash.

``build_index`` compares the chunks of the SOP folders with what the collection holds:
new chunks are embedded and added, changed ones replaced, vanished ones deleted, and
unchanged ones are not re-embedded. Chroma runs embedded in a folder by default, or as a
server reached over HTTP when a URL is configured (the embedded client is not process-safe:
one writer at a time, or use the server).
"""

from __future__ import annotations

import hashlib
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
from knowledge.sop import load_corpus

#: Bumped when the stored metadata layout changes (forces a rebuild of every chunk).
SCHEMA_VERSION = "1"
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
            raise ValueError(f"chroma_url must look like http://host:8000, got {config.chroma_url!r}")
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
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"schema": SCHEMA_VERSION, "embedding": embedding_function.name()},
    )


def chunk_metadata(chunk: Chunk, content_hash: str) -> dict[str, Any]:
    """Flat metadata for one chunk: what a citation needs, plus the filter flags."""
    meta: dict[str, Any] = {
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
    got = collection.get(include=["metadatas"])
    return {
        chunk_id: str((meta or {}).get("content_hash", ""))
        for chunk_id, meta in zip(got["ids"], got["metadatas"] or [])
    }


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
    chunks = [c for sop in corpus.sops for c in chunk_sop(sop)]
    ef = embedding_function or MiniLMEmbeddingFunction()
    model = f"{ef.name()}:{SCHEMA_VERSION}"
    wanted = {c.chunk_id: (c, c.content_hash(model)) for c in chunks}

    client = open_client(config)
    collection = open_collection(client, config.collection, ef)
    existing = _existing_hashes(collection)

    stale = [cid for cid in existing if cid not in wanted]
    changed = [cid for cid, (_, h) in wanted.items() if cid in existing and existing[cid] != h]
    new = [cid for cid in wanted if cid not in existing]
    batch = max(1, min(client.get_max_batch_size(), 1000))

    # Changed chunks are deleted then added, not upserted: an upsert merges metadata and
    # would keep a category flag the SOP no longer has.
    for ids in _batches(stale + changed, batch):
        collection.delete(ids=ids)
    to_write = [wanted[cid][0] for cid in changed + new]
    for part in _batches(to_write, batch):
        collection.add(
            ids=[c.chunk_id for c in part],
            embeddings=ef.embed_uncached([c.search_text for c in part]),  # type: ignore[arg-type]
            documents=[c.text for c in part],
            metadatas=[chunk_metadata(c, wanted[c.chunk_id][1]) for c in part],
        )
    # A fingerprint of the whole index lets searchers notice that their keyword index is stale.
    fingerprint = hashlib.sha256(
        "".join(f"{cid}={h}" for cid, (_, h) in sorted(wanted.items())).encode()
    ).hexdigest()[:16]
    if collection.metadata is None or collection.metadata.get("fingerprint") != fingerprint:
        collection.modify(metadata={
            "schema": SCHEMA_VERSION, "embedding": ef.name(), "fingerprint": fingerprint,
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
