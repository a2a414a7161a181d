"""The manifest of a generated case set: which seeds and generator settings made it.

It lies beside the cases (`manifest.json` in the set's folder) and is what the leakage check
reads: a set built from a seed the offline backend learned from must not be scored.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MANIFEST_NAME = "manifest.json"


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the file and the field."""


class CaseSetManifest(BaseModel):
    """How a generated case set was built (`evals/build_generated.py` writes it)."""

    model_config = ConfigDict(extra="forbid")

    generator: str = "billing.scenarios.generate_scenario"
    generator_version: str
    seeds: list[int] = Field(min_length=1)
    accounts: int
    months: int
    start: str
    fault_rate: float
    per_category_cap: int
    cases: int
    case_set_hash: str
    by_category: dict[str, int]
    files: list[str]
    duplicate_keys_skipped: int = 0  # cases left out: an earlier seed gave another case the same key
    built_by: str = "evals/build_generated.py"


def manifest_path_for(cases: Path) -> Path | None:
    """The manifest that describes `cases` (a set folder, or a file in one), if there is one."""
    folder = cases if cases.is_dir() else cases.parent
    path = folder / MANIFEST_NAME
    return path if path.is_file() else None


def read_manifest(path: Path) -> CaseSetManifest:
    """Read and validate a manifest, naming the file and field of any problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: cannot be read as JSON: {exc}") from None
    try:
        return CaseSetManifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '$'}: {e['msg']}" for e in exc.errors())
        raise ManifestError(f"{path}: {problems}") from None


def write_manifest(path: Path, manifest: CaseSetManifest) -> None:
    """Write the manifest (sorted keys, stable across rebuilds)."""
    path.write_text(json.dumps(manifest.model_dump(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
