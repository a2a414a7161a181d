"""Reading and writing bundle files: one JSON file, a folder of ``*.json``, or a JSONL file.

Every error names the file (and line, for JSONL) and the JSON path of the culprit, e.g.
``cases/c1.json: $.billing_events[3].amount: '12,5' is not a decimal string``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from billing.bundles.schema import CaseBundle, check_schema_version


class BundleError(ValueError):
    """A bundle file that cannot be read: `where` is the file (and line), `path` the JSON path."""

    def __init__(self, where: str, path: str, message: str) -> None:
        super().__init__(f"{where}: {path}: {message}")
        self.where, self.path, self.message = where, path, message


class BundleFileErrors(ValueError):
    """Every problem found in a set of bundle files (nothing is loaded when there is one)."""

    def __init__(self, errors: list[BundleError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def json_path(loc: Iterable[int | str]) -> str:
    """A pydantic error location as a JSON path: ``('invoices', 2, 'lines', 0, 'amount')`` → ``$.invoices[2].lines[0].amount``."""
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_bundle(data: Any, where: str) -> CaseBundle:
    """Validate one decoded JSON document as a bundle; every problem is reported, each with its path."""
    if not isinstance(data, dict):
        raise BundleFileErrors([BundleError(where, "$", f"a bundle is a JSON object, got {type(data).__name__}")])
    if "schema_version" not in data:
        raise BundleFileErrors([BundleError(where, "$.schema_version", "missing; every bundle states its version")])
    try:
        check_schema_version(data["schema_version"])
    except ValueError as exc:
        raise BundleFileErrors([BundleError(where, "$.schema_version", str(exc))]) from None
    try:
        return CaseBundle.model_validate(data)
    except ValidationError as exc:
        raise BundleFileErrors([BundleError(where, json_path(_loc(err)), err["msg"]) for err in exc.errors()]) from None


def _loc(err: Any) -> list[int | str]:
    # Drop pydantic's validator tags (e.g. 'function-after[...]') so the path is the document's own.
    return [p for p in err["loc"] if isinstance(p, int) or not ("[" in p and "]" in p)]


def iter_bundles(path: str | Path) -> Iterator[tuple[str, CaseBundle]]:
    """Each bundle of a file, a folder of ``*.json`` (sorted by name) or a ``.jsonl`` file, with where it came from.

    Raises `BundleFileErrors` at the first unreadable document."""
    for where, data in _raw_documents(Path(path)):
        if isinstance(data, BundleError):
            raise BundleFileErrors([data])
        yield where, parse_bundle(data, where)


def read_bundles(path: str | Path) -> list[CaseBundle]:
    """Every bundle at `path` (a file, a folder of ``*.json``, or a JSONL file), all validated first.

    The problems of every document are collected before `BundleFileErrors` is raised, so one
    run shows them all."""
    return [bundle for _, bundle in read_sourced_bundles(path)]


def read_sourced_bundles(path: str | Path) -> list[tuple[str, CaseBundle]]:
    """Like `read_bundles`, each bundle with where it came from (``file``, ``file:line`` or ``file[i]``)."""
    bundles: list[tuple[str, CaseBundle]] = []
    errors: list[BundleError] = []
    for where, data in _raw_documents(Path(path)):
        if isinstance(data, BundleError):
            errors.append(data)
            continue
        try:
            bundles.append((where, parse_bundle(data, where)))
        except BundleFileErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise BundleFileErrors(errors)
    return bundles


def _raw_documents(source: Path) -> Iterator[tuple[str, Any]]:
    # Decoded JSON documents with where they came from; an undecodable one comes as a BundleError.
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix == ".json" and p.is_file())
    elif source.is_file():
        files = [source]
    else:
        yield str(source), BundleError(str(source), "$", "no such file or folder")
        return
    for file in files:
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            yield str(file), BundleError(str(file), "$", f"cannot be read: {exc}")
            continue
        if file.suffix == ".jsonl":
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    yield f"{file}:{number}", _decode(line, f"{file}:{number}")
            continue
        data = _decode(text, str(file))
        if isinstance(data, list):  # a JSON array of bundles is accepted too
            for i, item in enumerate(data):
                yield f"{file}[{i}]", item
        else:
            yield str(file), data


def _decode(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return BundleError(where, "$", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")


def bundle_json(bundle: CaseBundle, *, indent: int | None = 2) -> str:
    """The bundle as JSON text: canonical decimals, UTC timestamps, absent optionals written as null."""
    return json.dumps(bundle.model_dump(mode="json"), indent=indent, ensure_ascii=False) + ("\n" if indent else "")


def write_bundle(bundle: CaseBundle, path: str | Path) -> Path:
    """Write one bundle as a JSON file (written to a temporary name first, so a reader never sees half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(bundle_json(bundle), encoding="utf-8")
    partial.replace(target)
    return target


def bundle_filename(bundle: CaseBundle) -> str:
    """A file name for a bundle, from its natural key (characters unsafe in file names replaced)."""
    key = bundle.exception.natural_key
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)
    # The hash keeps two keys that differ only in replaced characters apart.
    return f"{safe[:150]}-{hashlib.sha256(key.encode()).hexdigest()[:8]}.json"
