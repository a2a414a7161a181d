"""BM25 keyword search over the SOP passages, tuned for billing identifiers.

Vectors are good at meaning and bad at exact strings: ``DISBURSEMENT_FAILURE``,
``BatchMeterUsage`` or ``CPPO`` look like noise to a sentence model. Here an identifier is
indexed whole *and* split into its words (``disbursement_failure``, ``disbursement``,
``failure``; ``batchmeterusage``, ``batch``, ``meter``, ``usage``), so both the exact term
and a paraphrase find it. Words get a light suffix stemmer (refunds/refunded/refunding).

The corpus is a few hundred passages, so an in-memory inverted index rebuilt on load is
simpler and faster than a database, and it works the same with the HTTP Chroma client.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

#: The built-in billing vocabulary; a ``glossary.yaml`` in a SOP folder adds groups to it.
GLOSSARY_PATH = Path(__file__).resolve().parent / "glossary.yaml"
GLOSSARY_FILE = "glossary.yaml"

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:[_\-.'][A-Za-z0-9]+)*")
_CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STOPWORDS = frozenset(
    {
        "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any",
        "are", "as", "at", "be", "because", "been", "before", "being", "below", "between",
        "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during",
        "each", "few", "for", "from", "further", "had", "has", "have", "having", "he",
        "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it",
        "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "now",
        "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out", "over",
        "own", "same", "she", "should", "so", "some", "such", "than", "that", "the",
        "their", "theirs", "them", "then", "there", "these", "they", "this", "those",
        "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what",
        "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would",
        "you", "your", "yours", "us", "let", "get", "got", "also",
    }
)


#: Suffix rewrites, first match wins (then a plain plural "s" is dropped).
_SUFFIXES = (("ies", "y"), ("ied", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", "e"))


def stem(word: str) -> str:
    """A light English stemmer: enough to join refund/refunds/refunded/refunding."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, repl in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + repl
            break
    else:
        if word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
    # "billing" -> "bill" keeps its double l; "shipped" -> "ship" loses the doubled p.
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    # Final e dropped so that price/priced/pricing meet at "pric".
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lowercased terms: whole identifiers plus their parts; stopwords dropped; stemmed."""
    terms: list[str] = []
    for raw in _TOKEN_RE.findall(text):
        parts = [p for piece in re.split(r"[_\-.']", raw) for p in _CAMEL_RE.findall(piece)]
        lowered = raw.lower()
        if len(parts) > 1:
            terms.append(lowered)  # the identifier as written: exact matches score high
        for part in parts:
            p = part.lower()
            if p not in _STOPWORDS:
                terms.append(stem(p))
    return terms


@dataclass(frozen=True)
class KeywordHit:
    """A document index and its BM25 score."""

    doc: int
    score: float


class BM25Index:
    """Okapi BM25 over a fixed list of documents.

    Each term's contribution to each document that holds it (idf x saturated tf) is computed
    once, when the index is built; a query then only adds up a few numpy arrays.
    """

    def __init__(self, documents: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths: list[int] = []
        for doc, text in enumerate(documents):
            counts = Counter(tokenize(text))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                postings[term].append((doc, tf))
        n = len(documents)
        self._n = n
        avg_len = (sum(lengths) / n) if n else 0.0
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._idf: dict[str, float] = {}
        for term, plist in postings.items():
            # BM25+ style idf floor at 0: a term in most passages neither helps nor hurts.
            idf = max(0.0, math.log((n - len(plist) + 0.5) / (len(plist) + 0.5) + 1.0))
            self._idf[term] = idf
            docs = np.array([d for d, _ in plist], dtype=np.int64)
            tf = np.array([t for _, t in plist], dtype=np.float64)
            norm = k1 * (1 - b + b * np.array([lengths[d] for d, _ in plist]) / avg_len)
            self._postings[term] = (docs, idf * tf * (k1 + 1) / (tf + norm))

    def __len__(self) -> int:
        return self._n

    def vocabulary(self) -> set[str]:
        """Every index term (lowercased, stemmed)."""
        return set(self._postings)

    def documents_with(self, term: str) -> set[int]:
        """The documents in which ``term`` (an index term) occurs."""
        docs = self._postings.get(term)
        return set() if docs is None else {int(d) for d in docs[0]}

    def document_frequency(self, term: str) -> int:
        """In how many documents ``term`` (an index term, e.g. lowercased) occurs."""
        docs = self._postings.get(term)
        return 0 if docs is None else len(docs[0])

    def full_match(self, query: str | dict[str, float]) -> float:
        """The score of a passage of average length holding each query term once: what a
        passage that matches the whole query scores, to put scores on a 0-1 scale that
        says how much of the query a passage matches (unlike dividing by the best score,
        which makes a passage matching one common word look like a perfect match)."""
        terms = query if isinstance(query, dict) else {t: 1.0 for t in tokenize(query)}
        # A term no passage holds is as rare as a term can be: no passage matches it.
        unseen = math.log((self._n + 0.5) / 0.5 + 1.0)
        return sum(w * self._idf.get(t, unseen) for t, w in terms.items())

    def scores(self, query: str | dict[str, float]) -> np.ndarray:
        """The BM25 score of every document (0 where no query term occurs).

        ``query`` is text, or already weighted terms (see :meth:`Glossary.expand`).
        """
        terms = query if isinstance(query, dict) else {t: 1.0 for t in tokenize(query)}
        out = np.zeros(self._n, dtype=np.float64)
        for term, weight in terms.items():
            hit = self._postings.get(term)
            if hit is not None:
                out[hit[0]] += weight * hit[1]  # a term lists each document once
        return out

    def search(
        self,
        query: str | dict[str, float],
        allowed: set[int] | None = None,
        k: int = 20,
    ) -> list[KeywordHit]:
        """The ``k`` best documents for ``query``, optionally among ``allowed`` ones only."""
        scores = self.scores(query)
        if allowed is not None:
            keep = np.zeros(self._n, dtype=bool)
            keep[list(allowed)] = True
            scores = np.where(keep, scores, 0.0)
        order = np.lexsort((np.arange(self._n), -scores))  # best first, ties by document
        return [KeywordHit(int(d), float(scores[d])) for d in order[:k] if scores[d] > 0]


def _words(text: str) -> list[str]:
    """Lowercased, stemmed words, stopwords kept: glossary phrases match on these."""
    return [stem(w) for w in re.findall(r"[a-z0-9]+(?:[_\-'][a-z0-9]+)*", text.lower())]


class Glossary:
    """Groups of interchangeable billing terms, used to expand keyword queries, and chat
    shorthand written out before a query is searched.

    A query containing any member phrase of a group gets the terms of the group's other
    members added at ``weight`` (below 1: the words the user wrote still count most).
    """

    def __init__(
        self,
        groups: list[list[str]],
        weight: float = 0.4,
        abbreviations: dict[str, str] | None = None,
    ) -> None:
        self.weight = weight
        self._phrases = groups
        #: The groups as given (lists of phrases).
        self.groups = groups
        self.abbreviations = {k.lower(): v for k, v in (abbreviations or {}).items()}
        # Whole words only, longest first ("accts" before "acct"); "w/" style keys too.
        keys = sorted(self.abbreviations, key=len, reverse=True)
        self._abbreviation_re = (
            re.compile(r"(?<![\w/])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w/])",
                       re.IGNORECASE)
            if keys else None
        )
        self._groups = [[(_words(p), tokenize(p)) for p in group] for group in groups]
        # Phrases by their first word: matching a query looks only at its own words.
        self._by_first: dict[str, list[tuple[int, tuple[str, ...]]]] = defaultdict(list)
        for i, group in enumerate(self._groups):
            for words, _ in group:
                if words:
                    self._by_first[words[0]].append((i, tuple(words)))

    def _matched(self, words: list[str]) -> list[int]:
        """The groups one of whose phrases occurs in ``words``, in glossary order."""
        found: set[int] = set()
        for start, word in enumerate(words):
            for group, phrase in self._by_first.get(word, ()):
                if tuple(words[start:start + len(phrase)]) == phrase:
                    found.add(group)
        return sorted(found)

    def write_out(self, query: str) -> str:
        """The query with chat shorthand written out ("cust paid short, mkt inv" ->
        "customer paid short, marketplace invoice"): the sentence model does not know that
        "cust" is a customer, and BM25 would only find the word as written."""
        if self._abbreviation_re is None:
            return query
        return self._abbreviation_re.sub(lambda m: self.abbreviations[m.group(1).lower()], query)

    def expand(self, query: str) -> dict[str, float]:
        """Weighted query terms: the query's own at 1.0, glossary expansions at ``weight``."""
        terms = {t: 1.0 for t in tokenize(query)}
        for i in self._matched(_words(query)):
            for _, phrase_terms in self._groups[i]:
                for term in phrase_terms:
                    terms.setdefault(term, self.weight)
        return terms


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read glossary: {exc}") from exc


def _read_abbreviations(path: Path) -> dict[str, str]:
    data = _read_yaml(path)
    found = data.get("abbreviations", {}) if isinstance(data, dict) else {}
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and k.strip() and isinstance(v, str) and v.strip()
        for k, v in found.items()
    ):
        raise ValueError(f"{path}: glossary abbreviations must map shorthand to words")
    return {k.strip().lower(): v.strip() for k, v in found.items()}


def _read_groups(path: Path) -> list[list[str]]:
    data = _read_yaml(path)
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and len(g) >= 2 and all(isinstance(t, str) and t.strip() for t in g)
        for g in groups
    ):
        raise ValueError(f"{path}: glossary must be 'groups:' a list of lists of 2+ phrases")
    return [[t.strip() for t in g] for g in groups]


def _glossary_files(sop_dirs: list[Path]) -> list[Path]:
    extra = [folder / GLOSSARY_FILE for folder in sop_dirs]
    return [GLOSSARY_PATH] + [p for p in extra if p.resolve() != GLOSSARY_PATH and p.is_file()]


def load_glossary(sop_dirs: list[Path]) -> list[list[str]]:
    """The built-in groups plus those of any ``glossary.yaml`` at the top of a SOP folder."""
    return [group for path in _glossary_files(sop_dirs) for group in _read_groups(path)]


def load_abbreviations(sop_dirs: list[Path]) -> dict[str, str]:
    """The built-in shorthand plus that of any ``glossary.yaml`` at the top of a SOP folder
    (a later folder's entry replaces an earlier one's)."""
    found: dict[str, str] = {}
    for path in _glossary_files(sop_dirs):
        found.update(_read_abbreviations(path))
    return found
