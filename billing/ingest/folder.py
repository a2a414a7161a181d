"""Loading a scenario folder: one file per kind, named `<kind>.<ext>`, in dependency order."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from billing.ingest.errors import IngestError, RowError
from billing.ingest.registry import KINDS, ingest_file, suffixes_of
from billing.ingest.report import IngestReport


def files_in(folder: Path) -> list[tuple[str, Path]]:
    """(kind, file) for every input file of `folder`, in ingest order; other files are ignored."""
    found = []
    for kind in KINDS:
        for suffix in suffixes_of(kind):
            path = folder / f"{kind}{suffix}"
            if path.is_file():
                found.append((kind, path))
    return found


def ingest_folder(
    engine: Engine,
    folder: Path | str,
    *,
    skip_bad_rows: bool = False,
    batch_size: int | None = None,
) -> list[IngestReport]:
    """Ingest every `<kind>.<ext>` file of `folder` (contracts first, messages last).

    Each file is its own all-or-nothing load; the first file that fails stops the run with its
    `IngestError` (files before it stay loaded: loading them again is a no-op)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise IngestError(
            folder.name, "folder", [RowError(0, "(folder)", f"no such folder: {folder}")]
        )
    return [
        ingest_file(engine, kind, path, skip_bad_rows=skip_bad_rows, batch_size=batch_size)
        for kind, path in files_in(folder)
    ]
