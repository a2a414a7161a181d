"""Cut a SOP into passages by heading, with ids that stay the same from one edit to the next.

A chunk is one ``##`` section (or one ``###`` subsection) of a SOP. Its id is the SOP id plus
the slugs of its heading path (``dropped_metering#decision-steps``), so editing a section
changes its content hash, not its id, and citations in old audit records keep pointing at the
same place. A section too long for the embedding model (MiniLM reads 256 tokens) is split at
paragraph boundaries into parts ``…~2``, ``…~3``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from knowledge.sop import SOP

#: Above this many words a section is split; ~1.3 tokens a word keeps a part under 256 tokens.
MAX_WORDS = 170
HEADING_SEPARATOR = " > "

_HEADING_RE = re.compile(r"^(#{1,3})[ \t]+(.+?)[ \t#]*$")
_FENCE_RE = re.compile(r"^(```|~~~)")


@dataclass(frozen=True)
class Chunk:
    """One passage of a SOP, ready to embed, index and cite."""

    chunk_id: str
    sop_id: str
    version: str
    title: str
    heading_path: tuple[str, ...]
    text: str
    categories: tuple[str, ...]
    channels: tuple[str, ...]
    source: str
    position: int

    @property
    def heading(self) -> str:
        """The heading path as shown in a citation, e.g. ``Decision steps > Window passed``."""
        return HEADING_SEPARATOR.join(self.heading_path) or "Overview"

    @property
    def search_text(self) -> str:
        """What is embedded and keyword-indexed: the section in the context of its SOP.

        The title and heading carry most of a section's topic ("Evidence to pull" alone
        means nothing), so they are part of the text the retrievers see.
        """
        return search_text(self.title, self.heading, self.text)

    @property
    def unit_texts(self) -> list[str]:
        """The section's items (list items, paragraphs, table rows), each after its heading.

        MiniLM averages a whole passage into one vector, so a section about five things
        matches a question about one of them only weakly. Each item also gets a vector of
        its own ("small-to-big"): the item finds the section, the section is what is cited.
        The item carries its heading ("Email outline: To the customer: ...") but not the
        SOP title: a 60-character title in front of a 10-word item made every item of a
        runbook embed alike (vector-only recall@3 0.76 with the title, 0.81 without, on
        the development queries).
        """
        return [unit_text(self.heading, unit) for unit in split_units(self.text)]

    def content_hash(self, model: str) -> str:
        """Changes whenever the indexed text, the metadata or the embedding model change."""
        payload = json.dumps(
            [model, self.search_text, self.text, self.version, self.categories,
             self.channels, self.source, self.position],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def search_text(title: str, heading: str, text: str) -> str:
    """Compose the text the retrievers see (also used to rebuild it from stored metadata)."""
    return f"{title} - {heading}\n{text}"


def unit_text(heading: str, unit: str) -> str:
    """What is embedded for one item of a section."""
    return f"{heading}: {unit}"


def unit_search_text(title: str, heading: str, unit: str) -> str:
    """What keyword search sees of one item: the item in the context of its section."""
    return f"{title} - {heading}\n{unit}"


_ITEM_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+|^\s*\|")


#: ``> Asked as: "question one" · "question two"``: how people ask for this section.
ASKED_AS_RE = re.compile(r"^>\s*Asked as:\s*(.+)$", re.IGNORECASE)


def asked_as(line: str) -> list[str]:
    """The questions of an "Asked as" line (empty for any other line)."""
    match = ASKED_AS_RE.match(line.strip())
    if match is None:
        return []
    return [q.strip().strip('"“”').strip() for q in re.split(r"\s+·\s+|\s*;\s*", match.group(1))
            if q.strip().strip('"“”').strip()]


def split_units(text: str, min_words: int = 3) -> list[str]:
    """Split a section into items: paragraphs, list items and table rows on their own, and
    each question of an "Asked as" line on its own (a question embeds closest to a question).
    """
    units: list[str] = []
    questions: list[str] = []
    for line in text.splitlines():
        questions.extend(asked_as(line))
    text = "\n".join(line for line in text.splitlines() if not asked_as(line))
    for block in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for line in block.splitlines():
            if _ITEM_RE.match(line) and current:
                units.append(" ".join(current))
                current = []
            current.append(line.strip())
        if current:
            units.append(" ".join(current))
    units = [u for u in units if len(u.split()) >= min_words and not re.fullmatch(r"[|\-: ]+", u)]
    return units + questions


def slugify(heading: str) -> str:
    """A heading as a URL-style slug: ``Decision steps (AWS)`` -> ``decision-steps-aws``."""
    slug = re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")
    return slug or "section"


def _sections(body: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """Split a markdown body into (heading path, lines) by H2/H3; H1 is the document title."""
    sections: list[tuple[tuple[str, ...], list[str]]] = [((), [])]
    path: tuple[str, ...] = ()
    in_fence = False
    for line in body.splitlines():
        if _FENCE_RE.match(line.strip()):
            in_fence = not in_fence
        match = None if in_fence else _HEADING_RE.match(line)
        if match is None:
            sections[-1][1].append(line)
            continue
        level, heading = len(match.group(1)), match.group(2).strip()
        if level == 1:
            # The H1 repeats the title; text under it (before any H2) is the overview.
            path = ()
        elif level == 2:
            path = (heading,)
        else:
            path = (path[0], heading) if path else (heading,)
        sections.append((path, []))
    return sections


def _split_long(text: str, max_words: int) -> list[str]:
    """Split text at blank lines (then at lines) into parts of at most ``max_words`` words."""
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    units: list[str] = []
    for block in blocks:
        if len(block.split()) <= max_words:
            units.append(block)
        else:  # a long list or paragraph: fall back to its lines
            units.extend(line for line in block.splitlines() if line.strip())
    parts: list[str] = []
    current: list[str] = []
    words = 0
    for unit in units:
        n = len(unit.split())
        if current and words + n > max_words:
            parts.append("\n\n".join(current))
            current, words = [], 0
        current.append(unit)
        words += n
    if current:
        parts.append("\n\n".join(current))
    return parts


def chunk_sop(sop: SOP, max_words: int = MAX_WORDS) -> list[Chunk]:
    """The passages of one SOP, in document order, with stable unique ids."""
    chunks: list[Chunk] = []
    used: set[str] = set()
    for path, lines in _sections(sop.body):
        text = "\n".join(lines).strip()
        if not text:
            continue  # a heading directly followed by a subheading
        base = "/".join(slugify(h) for h in path) or "overview"
        # The same heading twice in one SOP gets "-2": ids stay unique and deterministic.
        key, n = base, 1
        while key in used:
            n += 1
            key = f"{base}-{n}"
        used.add(key)
        for i, part in enumerate(_split_long(text, max_words), start=1):
            suffix = "" if i == 1 else f"~{i}"
            chunks.append(Chunk(
                chunk_id=f"{sop.id}#{key}{suffix}",
                sop_id=sop.id,
                version=sop.version,
                title=sop.title,
                heading_path=path,
                text=part,
                categories=sop.categories,
                channels=sop.channels,
                # The file name, not its absolute path: a fresh clone elsewhere re-embeds nothing.
                source=sop.path.name,
                position=len(chunks),
            ))
    return chunks
