"""Typos in chat-style queries, fixed against the words of the runbooks.

People type "sholud", "miissing", "unusbscribed" in Slack. BM25 then misses the word
entirely, and the sentence model sees word pieces instead of the word. A word of the query
is corrected when all of these hold:

* it is at least 5 letters long (short words have too many neighbours) and written in lower
  case or capitalised (``BatchMeterUsage`` or ``CPPO`` are identifiers, left to keyword search);
* it is not a known word: not in the runbooks (or the glossary), not an inflection of one
  (its stem is indexed), not a whole word of the model's own vocabulary (about 22,000
  common English words, ``data/tokenizer.json``), so "night" is never "fixed" to "right",
  and not a contraction typed without its apostrophe ("arent" is not "agent");
* a runbook word is one edit away (a letter dropped, added, changed, or two neighbours
  swapped) and starts with the same letter (typos rarely hit the first letter); the most
  frequent such word wins.

Lookup is a symmetric-delete index (every word and its one-letter deletions), so a query
costs a few dictionary lookups per unknown word.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

from knowledge.embedding import TOKENIZER_PATH
from knowledge.keyword import stem

MIN_LENGTH = 5
#: Contractions of 5+ letters as chat writes them, without the apostrophe: English, not typos.
CONTRACTIONS = frozenset({
    "arent", "doesnt", "didnt", "wasnt", "werent", "hasnt", "havent", "hadnt", "shouldnt",
    "wouldnt", "couldnt", "mustnt", "neednt", "youre", "theyre", "youve", "theyve", "youll",
    "theyll", "theyd", "whats", "thats", "theres", "wheres", "shouldve", "wouldve", "couldve",
})
_WORD_RE = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=1)
def model_words(path: Path = TOKENIZER_PATH) -> frozenset[str]:
    """The whole, lowercase, alphabetic words of the model's WordPiece vocabulary."""
    vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    return frozenset(w for w in vocab if w.isalpha() and w.islower())


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Speller:
    """Corrects query words against a corpus vocabulary (see the module docstring)."""

    def __init__(self, texts: list[str], stems: set[str] | None = None,
                 known: frozenset[str] | None = None) -> None:
        counts = Counter(w for text in texts for w in _WORD_RE.findall(text.lower()))
        self._counts = counts
        self._stems = stems or set()
        self._known = known if known is not None else model_words()
        self._by_deletion: dict[str, set[str]] = defaultdict(set)
        for word in counts:
            if len(word) >= MIN_LENGTH - 1:
                self._by_deletion[word].add(word)
                for variant in _deletions(word):
                    self._by_deletion[variant].add(word)

    def _is_known(self, word: str) -> bool:
        return (word in self._counts or word in self._known or word in CONTRACTIONS
                or stem(word) in self._stems)

    def correct_word(self, word: str) -> str:
        """The runbook word ``word`` was probably meant to be, or ``word`` itself."""
        lower = word.lower()
        if len(lower) < MIN_LENGTH or word[1:] != lower[1:] or self._is_known(lower):
            return word
        candidates = set(self._by_deletion.get(lower, ()))
        for variant in _deletions(lower):
            candidates |= self._by_deletion.get(variant, set())
        candidates = {c for c in candidates if c[0] == lower[0]}
        if not candidates:
            return word
        return max(candidates, key=lambda c: (self._counts[c], c))

    def correct(self, query: str) -> str:
        """The query with each likely typo replaced by the runbook word."""
        return _WORD_RE.sub(lambda m: self.correct_word(m.group()), query)
