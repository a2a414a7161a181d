"""A case set: labelled case bundles read from a file, a folder, JSONL, or gzip-compressed JSONL.

Bundles are read and validated by `billing.bundles` (every problem names the file, line and
JSON path); this module adds what an eval needs on top: compressed files (the generated set
is stored as ``cases.jsonl.gz``), the set's manifest, one hash that identifies the whole set,
and the refusal of a set that cannot be scored (no labels, the same case twice, no cases).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from billing.bundles import (
    BundleError,
    BundleFileErrors,
    CaseBundle,
    parse_bundle,
    read_sourced_bundles,
)
from billing.bundles.labels import ExpectedLabels
from evals.manifest import MANIFEST_NAME, CaseSetManifest, manifest_path_for, read_manifest

#: File names a case-set folder is read from (anything else — specs, code, the manifest — is not a case).
CASE_SUFFIXES = (".json", ".jsonl", ".jsonl.gz", ".json.gz")


class CaseSetError(ValueError):
    """A case set that cannot be scored; the message says where and why."""


@dataclass(frozen=True)
class EvalCase:
    """One labelled bundle and where it came from."""

    source: str
    bundle: CaseBundle

    @property
    def case_id(self) -> str:
        return self.bundle.case_id

    @property
    def expected(self) -> ExpectedLabels:
        assert self.bundle.expected is not None  # `load_case_set` refuses unlabelled bundles
        return self.bundle.expected


@dataclass(frozen=True)
class CaseSet:
    """Every case of a set, in a stable order (by case id), with the set's hash and manifest."""

    path: Path
    cases: list[EvalCase]
    hash: str
    manifest: CaseSetManifest | None


def case_files(path: Path) -> list[Path]:
    """The files of a set: `path` itself, or the case files of the folder, sorted by name."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir()
                      if p.is_file() and p.name != MANIFEST_NAME and p.name.endswith(CASE_SUFFIXES))
    raise CaseSetError(f"{path}: no such file or folder")


def _read_gzip(path: Path) -> list[tuple[str, CaseBundle]]:
    try:
        text = gzip.decompress(path.read_bytes()).decode("utf-8-sig")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise BundleFileErrors([BundleError(str(path), "$", f"cannot be read as gzip UTF-8 text: {exc}")]) from None
    documents: list[tuple[str, str]] = (
        [(f"{path}:{n}", line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if path.name.endswith(".jsonl.gz") else [(str(path), text)]
    )
    bundles: list[tuple[str, CaseBundle]] = []
    errors: list[BundleError] = []
    for where, document in documents:
        try:
            bundles.append((where, parse_bundle(json.loads(document), where)))
        except json.JSONDecodeError as exc:
            errors.append(BundleError(where, "$", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"))
        except BundleFileErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise BundleFileErrors(errors)
    return bundles


def read_cases(path: Path) -> list[tuple[str, CaseBundle]]:
    """Every bundle of the set with its source; all files are read before any error is raised."""
    found: list[tuple[str, CaseBundle]] = []
    errors: list[BundleError] = []
    for file in case_files(path):
        try:
            found += _read_gzip(file) if file.suffix == ".gz" else read_sourced_bundles(file)
        except BundleFileErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise BundleFileErrors(errors)
    return found


def bundle_digest(bundle: CaseBundle) -> str:
    """SHA-256 of a bundle's canonical JSON (sorted keys), labels included."""
    text = json.dumps(bundle.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def case_set_hash(bundles: list[CaseBundle]) -> str:
    """One hash for the whole set: the same cases with the same labels give the same hash,
    whatever the files they are stored in and their order."""
    digest = hashlib.sha256()
    for case_id, one in sorted((b.case_id, bundle_digest(b)) for b in bundles):
        digest.update(f"{case_id}\t{one}\n".encode())
    return digest.hexdigest()


def load_case_set(path: str | Path) -> CaseSet:
    """Read a set and check that it can be scored: cases present, each labelled, each once.

    Raises `BundleFileErrors` (unreadable documents, each with file/line/JSON path),
    `CaseSetError`, or `evals.manifest.ManifestError`."""
    root = Path(path)
    sourced = read_cases(root)
    if not sourced:
        raise CaseSetError(f"{root}: no case bundles found (looked for {', '.join(CASE_SUFFIXES)} files)")
    problems: list[str] = []
    first_seen: dict[str, str] = {}
    for where, bundle in sourced:
        if bundle.expected is None:
            problems.append(f"{where}: $.expected: missing; an eval case needs its expected labels")
        if bundle.case_id in first_seen:
            problems.append(f"{where}: $.exception.natural_key: {bundle.case_id!r} is already the case of "
                            f"{first_seen[bundle.case_id]}")
        first_seen.setdefault(bundle.case_id, where)
    if problems:
        raise CaseSetError("\n".join(problems))
    cases = sorted((EvalCase(where, bundle) for where, bundle in sourced), key=lambda c: c.case_id)
    manifest_file = manifest_path_for(root)
    return CaseSet(path=root, cases=cases, hash=case_set_hash([c.bundle for c in cases]),
                   manifest=read_manifest(manifest_file) if manifest_file else None)
