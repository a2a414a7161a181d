"""Ingest: one adapter per input format, validated as a whole, loaded all or nothing.

`ingest_file(engine, kind, path)` loads one file; `ingest_folder(engine, folder)` loads a
generated scenario folder in dependency order. See docs/formats.md and docs/formats/*.md.
"""

from billing.ingest.errors import IngestError, RowError
from billing.ingest.registry import KINDS, ingest_file
from billing.ingest.report import IngestReport

__all__ = ["KINDS", "IngestError", "IngestReport", "RowError", "ingest_file"]
