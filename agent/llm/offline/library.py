"""The case library: labelled cases the offline backend compares a new case with.

Two sources: cases from generated scenarios whose seeds are reserved for the library
(`LIBRARY_SEEDS`; the evals refuse any case set built from them), and decisions people made
in the review queue. Each case is reduced to a short feature text — the difference the rule
stated and the evidence signals that tell look-alike causes apart — and embedded with the
same offline MiniLM model as the SOPs. Neighbours vote; the vote moves the confidence and
breaks near-ties between the SOP rules, it never overrides a decisive rule.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
#: Seeds the library is built from. Evaluation sets must never use these (evals check it).
LIBRARY_SEEDS: tuple[int, ...] = tuple(range(9001, 9009))
_NEAREST_CACHE_SIZE = 4096


@dataclass(frozen=True)
class LibraryCase:
    """One labelled case."""

    case_id: str
    text: str
    category: str
    action: str
    escalate_to: str
    source: str  # "generated:<seed>" or "review:<reviewer>"


@dataclass(frozen=True)
class Neighbour:
    case: LibraryCase
    similarity: float


class CaseLibrary:
    """Labelled cases with their embeddings, searched by cosine similarity."""

    def __init__(self, cases: list[LibraryCase], embed: object) -> None:
        self.cases = cases
        self._embed = embed
        self._matrix = self._embed_all([c.text for c in cases]) if cases else np.zeros((0, 384), dtype=np.float32)
        # Feature texts are few (rule, difference, channel, currency and a few evidence flags), so a
        # batch asks the same ones again: remember the answer, not only the query's vector.
        self._nearest_cache: dict[tuple[str, int], tuple[Neighbour, ...]] = {}

    def _embed_all(self, texts: list[str]) -> np.ndarray:
        vectors = self._embed(texts)  # type: ignore[operator]
        return np.asarray(vectors, dtype=np.float32)

    def nearest(self, text: str, k: int = 7) -> list[Neighbour]:
        """The k most similar labelled cases (vectors are unit length: dot = cosine)."""
        if not self.cases:
            return []
        found = self._nearest_cache.get((text, k))
        if found is None:
            sims = self._matrix @ self._embed_all([text])[0]
            top = np.argsort(-sims, kind="stable")[:k]
            found = tuple(Neighbour(self.cases[i], float(sims[i])) for i in top)
            if len(self._nearest_cache) >= _NEAREST_CACHE_SIZE:  # unusual texts: start again
                self._nearest_cache.clear()
            self._nearest_cache[(text, k)] = found
        return list(found)

    @staticmethod
    def vote(neighbours: list[Neighbour]) -> Counter[str]:
        """Similarity-weighted category votes, normalised to sum to 1."""
        votes: Counter[str] = Counter()
        for n in neighbours:
            votes[n.case.category] += max(n.similarity, 0.0)
        total = sum(votes.values()) or 1.0
        return Counter({k: v / total for k, v in votes.items()})


def read_cases(path: Path) -> list[LibraryCase]:
    """Read a JSONL file of labelled cases (missing file: none)."""
    if not path.exists():
        return []
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(LibraryCase(**json.loads(line)))
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}:{n}: not a library case: {exc}") from exc
    return cases


def write_cases(path: Path, cases: list[LibraryCase]) -> None:
    """Write cases as JSONL, sorted for stable diffs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(c.__dict__, sort_keys=True) for c in sorted(cases, key=lambda c: c.case_id)]
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
