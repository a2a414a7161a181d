"""Streaming the rows of an input file, with the line each row starts on.

CSV goes through the `csv` module (quoted commas, quoted newlines, a UTF-8 BOM); JSONL is one
JSON document per line, numbers read as exact Decimals. Files are UTF-8. Reading is strict
first (fast); when the bytes are not UTF-8 the caller reads again with `tolerant=True`, which
decodes with `surrogateescape` so that every undecodable row is reported by its line instead
of the whole file failing at an unknown place.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from billing.ingest.errors import RowError

# Bytes that were not UTF-8 come back as lone surrogates U+DC80..U+DCFF under surrogateescape.
_UNDECODED = re.compile("[\udc80-\udcff]+")
_NO_PROBLEMS: tuple[RowError, ...] = ()


class RawRow(NamedTuple):
    """One row as read: its first line, its values (None if unreadable) and what was wrong."""

    line: int
    values: Any  # dict[str, str] for CSV; the parsed JSON value for JSONL
    raw: list[str] | str  # as written, for the rejects file
    problems: tuple[RowError, ...] = _NO_PROBLEMS


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the file's bytes (read in chunks: files may be gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sniff_problems(path: Path) -> list[RowError]:
    """File-level problems visible in the first bytes (UTF-16 instead of UTF-8, empty file)."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if not head:
        return [RowError(1, "(file)", "the file is empty")]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [RowError(1, "(file)", "the file is UTF-16 encoded; save it as UTF-8")]
    return []


def undecoded_reason(value: str) -> str | None:
    """Why `value` (read with surrogateescape) is not UTF-8, or None if it is."""
    match = _UNDECODED.search(value)
    if match is None:
        return None
    raw = match.group().encode("utf-8", "surrogateescape")
    as_latin1 = value.encode("utf-8", "surrogateescape").decode("latin-1")
    return (
        f"is not valid UTF-8 (byte(s) {raw.hex(' ').upper()}; read as latin-1 it would be "
        f"{as_latin1!r}): save the file as UTF-8"
    )


def _open_text(path: Path, tolerant: bool) -> Any:
    # utf-8-sig drops a BOM if there is one; newline="" lets csv handle quoted newlines.
    return path.open(
        "r", encoding="utf-8-sig", errors="surrogateescape" if tolerant else "strict", newline=""
    )


class CsvSource:
    """The rows of a CSV file with a header line, as dicts keyed by column name."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def header(self, tolerant: bool = False) -> list[str]:
        """The column names of line 1 (surrounding spaces removed)."""
        with _open_text(self.path, tolerant) as handle:
            first = next(csv.reader(handle, strict=True), [])
        return [name.strip() for name in first]

    def rows(self, tolerant: bool = False) -> Iterator[RawRow]:
        """Every data row; line numbers count the header as line 1."""
        with _open_text(self.path, tolerant) as handle:
            reader = csv.reader(handle, strict=True)
            header = [name.strip() for name in next(reader, [])]
            width = len(header)
            start = reader.line_num + 1
            new = tuple.__new__  # RawRow(...) goes through a Python-level __new__: too slow per row
            try:
                for row in reader:
                    line, start = start, reader.line_num + 1
                    if len(row) == width and not tolerant:  # the common case, kept short
                        yield new(RawRow, (line, dict(zip(header, row)), row, _NO_PROBLEMS))
                    elif row:  # (an empty list is a blank line)
                        yield self._checked(line, header, row, tolerant)
            except csv.Error as exc:
                # The csv module cannot resynchronise after a quoting error: stop here.
                yield RawRow(
                    start,
                    None,
                    [],
                    (
                        RowError(
                            start,
                            "(row)",
                            f"CSV syntax error ({exc}); the rest of the file was not read",
                        ),
                    ),
                )

    @staticmethod
    def _checked(line: int, header: list[str], row: list[str], tolerant: bool) -> RawRow:
        width = len(header)
        problems: tuple[RowError, ...] = ()
        if len(row) != width:
            problems = (
                RowError(
                    line,
                    "(row)",
                    (
                        f"has {len(row)} fields but the header has {width} "
                        "(a value containing a comma must be in double quotes)"
                    ),
                ),
            )
        if tolerant:
            problems += tuple(
                RowError(line, header[i] if i < width else f"field {i + 1}", reason)
                for i, value in enumerate(row)
                if (reason := undecoded_reason(value)) is not None
            )
        return RawRow(line, dict(zip(header, row)), row, problems or _NO_PROBLEMS)


class JsonlSource:
    """The lines of a JSON Lines file, each parsed with exact Decimal numbers."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, tolerant: bool = False) -> Iterator[RawRow]:
        """Every non-blank line, parsed; a line that is not JSON is a row with a problem."""
        with _open_text(self.path, tolerant) as handle:
            for line_no, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                if tolerant and (reason := undecoded_reason(text)) is not None:
                    yield RawRow(line_no, None, text, (RowError(line_no, "(row)", reason),))
                    continue
                try:
                    value = json.loads(text, parse_float=Decimal)
                except json.JSONDecodeError as exc:
                    yield RawRow(
                        line_no,
                        None,
                        text,
                        (
                            RowError(
                                line_no,
                                "(row)",
                                f"is not valid JSON ({exc.msg} at character {exc.pos + 1})",
                            ),
                        ),
                    )
                    continue
                yield RawRow(line_no, value, text)


def scalar_text(value: Any) -> str | None:
    """A JSON scalar as the text a CSV would hold (None for objects and arrays)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return None
