"""Incremental indexing by content hash, and Chroma never falling back to its default model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from knowledge import KBConfig, KnowledgeBase, SOPError, build_index
from knowledge.embedding import MiniLMEmbeddingFunction
from knowledge.index import open_client


class CountingEF(MiniLMEmbeddingFunction):
    """Counts the texts actually sent to the model."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_uncached(self, texts):  # type: ignore[no-untyped-def]
        self.embedded.extend(texts)
        return super().embed_uncached(texts)


@pytest.fixture
def corpus(tmp_path: Path, make_sop):  # type: ignore[no-untyped-def]
    folder = tmp_path / "sops"
    make_sop(folder, "alpha",
             "## Symptoms\n\n- payouts bounced\n\n## Resolution\n\nFix the bank details.")
    make_sop(folder, "beta",
             "## Symptoms\n\nUsage hours missing.\n\n## Resolution\n\nResend within 6 hours.",
             categories="short_payment")
    return folder


def _config(tmp_path: Path) -> KBConfig:
    return KBConfig(chroma_path=tmp_path / "chroma", collection="incremental")


def _stored(config: KBConfig) -> dict[str, dict]:  # type: ignore[type-arg]
    got = open_client(config).get_collection(
        config.collection, embedding_function=MiniLMEmbeddingFunction()  # type: ignore[arg-type]
    ).get(include=["metadatas"])
    return {i: m for i, m in zip(got["ids"], got["metadatas"] or [])}


def test_incremental_reindex(tmp_path: Path, corpus: Path, no_network: None) -> None:
    config = _config(tmp_path)
    ef = CountingEF()

    first = build_index([corpus], config=config, embedding_function=ef)
    assert (first.added, first.updated, first.unchanged, first.deleted) == (4, 0, 0, 0)
    assert first.sops == 2 and first.chunks == 4
    ef.embedded.clear()

    again = build_index([corpus], config=config, embedding_function=ef)
    assert (again.added, again.updated, again.unchanged, again.deleted) == (0, 0, 4, 0)
    assert ef.embedded == []  # nothing re-embedded

    # Edit one section of alpha: only that section (and its items) is re-embedded.
    path = corpus / "alpha.md"
    path.write_text(path.read_text().replace("Fix the bank details.", "Fix the IBAN, then retry."))
    edited = build_index([corpus], config=config, embedding_function=ef)
    assert (edited.added, edited.updated, edited.unchanged, edited.deleted) == (0, 1, 3, 0)
    assert ef.embedded and all("Resolution" in t for t in ef.embedded)
    assert "IBAN" in _stored_document(config, "alpha#resolution")

    # Remove beta: its sections (and their item records) are deleted.
    (corpus / "beta.md").unlink()
    removed = build_index([corpus], config=config, embedding_function=ef)
    assert (removed.deleted, removed.unchanged) == (2, 2)
    assert not [i for i in _stored(config) if i.startswith("beta#")]


def _stored_document(config: KBConfig, chunk_id: str) -> str:
    got = open_client(config).get_collection(
        config.collection, embedding_function=MiniLMEmbeddingFunction()  # type: ignore[arg-type]
    ).get(ids=[chunk_id], include=["documents"])
    return (got["documents"] or [""])[0]


def test_changed_categories_replace_filter_flags(tmp_path: Path, corpus: Path) -> None:
    config = _config(tmp_path)
    build_index([corpus], config=config)
    path = corpus / "beta.md"
    path.write_text(path.read_text().replace("[short_payment]", "[fx_variance]"))
    report = build_index([corpus], config=config)
    assert report.updated == 2
    meta = _stored(config)["beta#symptoms"]
    assert meta["cat_fx_variance"] is True and "cat_short_payment" not in meta


def test_bad_file_leaves_index_untouched(tmp_path: Path, corpus: Path) -> None:
    config = _config(tmp_path)
    build_index([corpus], config=config)
    before = _stored(config)
    (corpus / "gamma.md").write_text("", encoding="utf-8")
    (corpus / "alpha.md").unlink()
    with pytest.raises(SOPError, match="gamma.md: file is empty"):
        build_index([corpus], config=config)
    assert _stored(config) == before


def test_never_uses_chromas_default_embedding(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chromadb.api import types

    def refuse(self, input):  # type: ignore[no-untyped-def]
        raise AssertionError("Chroma's default embedding function was called")

    monkeypatch.setattr(types.DefaultEmbeddingFunction, "__call__", refuse)
    config = _config(tmp_path)
    build_index([corpus], config=config)
    kb = KnowledgeBase(config)
    assert kb.search("bank details", k=1)[0].sop_id == "alpha"
    # Even a raw Chroma text query on our collection goes through our function.
    hits = kb._collection.query(query_texts=["bank details"], n_results=1)
    assert hits["ids"][0]


def test_searcher_notices_a_reindex(tmp_path: Path, corpus: Path, make_sop) -> None:  # type: ignore[no-untyped-def]
    config = _config(tmp_path)
    build_index([corpus], config=config)
    kb = KnowledgeBase(config)
    make_sop(corpus, "delta", "## Resolution\n\nEscalate the CPPO margin to the reseller.")
    build_index([corpus], config=config)
    kb._checked_at = 0.0  # pretend the refresh interval has passed
    assert kb.search("CPPO", k=1)[0].sop_id == "delta"


def test_chroma_url_is_validated() -> None:
    with pytest.raises(ValueError, match="chroma_url"):
        open_client(KBConfig(chroma_url="chroma:8000"))


@pytest.mark.skipif(
    not os.environ.get("TRIAGE_TEST_CHROMA_URL"),
    reason="needs a Chroma server: TRIAGE_TEST_CHROMA_URL=http://127.0.0.1:8000 "
    "(e.g. `chroma run --path /tmp/chroma --host 127.0.0.1 --port 8000`)",
)
def test_http_client_round_trip(tmp_path: Path, corpus: Path) -> None:
    """The same incremental index and search through a Chroma server (loopback only)."""
    config = KBConfig(
        chroma_url=os.environ["TRIAGE_TEST_CHROMA_URL"], collection=f"test_{tmp_path.name}"
    )
    try:
        assert build_index([corpus], config=config).added == 4
        assert build_index([corpus], config=config).unchanged == 4
        assert KnowledgeBase(config).search("bank details", k=1)[0].sop_id == "alpha"
    finally:
        open_client(config).delete_collection(config.collection)


def test_fresh_and_incremental_index_rank_alike(tmp_path: Path, corpus: Path, make_sop) -> None:  # type: ignore[no-untyped-def]
    """Same SOPs, built in one go or in two steps: same passages, same order, same scores."""
    make_sop(corpus, "gamma", "## Symptoms\n\nPayout returned by the bank.\n\n## SLAs\n\nTwo days.")
    fresh = KBConfig(chroma_path=tmp_path / "fresh", collection="alike")
    build_index([corpus], config=fresh)
    stepwise = KBConfig(chroma_path=tmp_path / "stepwise", collection="alike")
    (corpus / "gamma.md").rename(tmp_path / "gamma.md")
    build_index([corpus], config=stepwise)
    (tmp_path / "gamma.md").rename(corpus / "gamma.md")
    build_index([corpus], config=stepwise)
    for query in ("payout bounced", "how long", "resend usage"):
        assert KnowledgeBase(fresh).search(query, k=6) == KnowledgeBase(stepwise).search(query, k=6)
