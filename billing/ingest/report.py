"""What loading one file did, as returned to the CLI, the API and `ingest_folder`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel


class IngestReport(BaseModel):
    """Counts for one file. `rows_*` count rows of the file (lines of a JSONL file); `records_new`
    counts records the database did not hold before (overlaps with earlier files are not new)."""

    kind: str
    filename: str
    sha256: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    records_new: int = 0
    already_loaded: bool = False  # the same bytes were loaded before: nothing was done
    rejects_path: Path | None = None
    batch_id: int | None = None

    def summary(self) -> str:
        """One line for people."""
        if self.already_loaded:
            return f"{self.filename} ({self.kind}): already loaded (batch {self.batch_id}); nothing to do"
        text = (
            f"{self.filename} ({self.kind}): {self.rows_read} rows read, {self.rows_loaded} loaded, "
            f"{self.rows_rejected} rejected; {self.records_new} new records"
        )
        if self.rejects_path is not None:
            text += f"; rejects in {self.rejects_path}"
        return text
