"""Ingest: one adapter per input format, each file validated as a whole and loaded all or nothing.

`ingest_file(engine, kind, path)` loads one file; `ingest_folder(engine, folder)` loads a
generated scenario folder in dependency order. The formats: docs/formats.md, docs/formats/*.md.
"""

from billing.ingest.errors import IngestError, RowError
from billing.ingest.folder import files_in, ingest_folder
from billing.ingest.registry import KINDS, ingest_file
from billing.ingest.report import IngestReport

__all__ = [
    "KINDS",
    "IngestError",
    "IngestReport",
    "RowError",
    "files_in",
    "ingest_file",
    "ingest_folder",
]
