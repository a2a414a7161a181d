"""Reading a YAML or JSON document exactly: numbers stay text until a field parses them.

PyYAML's safe loader would turn `0.1` into a float (inexact) and `0123` into an octal int; here
every YAML number is kept as the text that was written, so amounts are parsed exactly as
decimals, AWS account ids keep their leading zeros, and `1e3` is refused by the field rather
than silently accepted. JSON numbers are read the same way. A map from each value's path to
its line lets errors name the line, as they do for CSV files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from billing.ingest.errors import RowError

Path_ = tuple[str | int, ...]


class ExactLoader(yaml.SafeLoader):
    """SafeLoader that keeps int and float scalars as the text written."""


def _scalar_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


ExactLoader.add_constructor("tag:yaml.org,2002:int", _scalar_text)
ExactLoader.add_constructor("tag:yaml.org,2002:float", _scalar_text)


@dataclass
class Document:
    """A parsed document and the 1-based line of every value in it (by path)."""

    data: Any
    lines: dict[Path_, int]

    def line_of(self, path: Path_) -> int:
        """The line of `path`, or of its nearest enclosing value that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


def load_document(path: Path) -> Document:
    """Parse `path` (`.yaml`/`.yml` or `.json`); raise `DocumentError` if it is not parseable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DocumentError(
            [
                RowError(
                    line,
                    "(file)",
                    f"is not valid UTF-8 (byte {exc.object[exc.start]:02X}); "
                    "save the file as UTF-8",
                )
            ]
        ) from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text, parse_float=str, parse_int=str)
        else:
            data = yaml.load(text, Loader=ExactLoader)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            [RowError(exc.lineno, "(file)", f"is not valid JSON: {exc.msg} (column {exc.colno})")]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise DocumentError([RowError(line, "(file)", f"is not valid YAML: {exc}")]) from None
    return Document(data, _lines(text))


class DocumentError(Exception):
    """The document could not be parsed at all."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("; ".join(map(str, errors)))


def _lines(text: str) -> dict[Path_, int]:
    # JSON is (nearly always) valid YAML, so one composer gives line numbers for both.
    try:
        root = yaml.compose(text, Loader=ExactLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[Path_, int] = {}
    stack: list[tuple[Path_, yaml.Node]] = [((), root)] if root is not None else []
    while stack:
        path, node = stack.pop()
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    stack.append(((*path, key.value), value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(((*path, i), item) for i, item in enumerate(node.value))
    return lines
