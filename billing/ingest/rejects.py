"""The rejects file: bad rows as they were written, with the reasons, so they can be fixed."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO

from billing.ingest.errors import RowError
from billing.ingest.reading import RawRow

REASON_COLUMNS = ["line", "error_fields", "error_reasons"]


def default_rejects_path(path: Path) -> Path:
    """`usage.csv` → `usage.rejects.csv`, beside the input."""
    return path.with_name(f"{path.stem}.rejects.csv")


class RejectsWriter:
    """Writes rejected rows to a temporary file that only `publish()` puts in place, so a load
    that fails leaves no rejects file behind."""

    def __init__(self, target: Path, columns: list[str] | None) -> None:
        self.target = target
        # CSV rows are copied column by column; a JSONL line goes whole into `record`.
        self.columns = columns
        self._tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        self._handle: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None
        self.count = 0

    def write(self, row: RawRow, errors: list[RowError]) -> None:
        """Append one rejected row with its error fields and reasons (joined by ' | ')."""
        if self._writer is None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            # surrogateescape writes undecodable input bytes back exactly as they were read.
            self._handle = self._tmp.open(
                "w", encoding="utf-8", errors="surrogateescape", newline=""
            )
            header = REASON_COLUMNS + (self.columns if self.columns is not None else ["record"])
            self._writer = csv.DictWriter(self._handle, fieldnames=header, extrasaction="ignore")
            self._writer.writeheader()
        record: dict[str, object] = {
            "line": row.line,
            "error_fields": " | ".join(e.field for e in errors),
            "error_reasons": " | ".join(e.reason for e in errors),
        }
        if self.columns is None:
            record["record"] = row.raw if isinstance(row.raw, str) else ",".join(row.raw)
            record["record"] = str(record["record"]).rstrip("\r\n")
        else:
            record.update(zip(self.columns, row.raw))
        self._writer.writerow(record)
        self.count += 1

    def publish(self) -> Path | None:
        """Move the finished file into place; None if no row was rejected."""
        self._close()
        if self.count == 0:
            return None
        self._tmp.replace(self.target)
        return self.target

    def discard(self) -> None:
        """Forget the rows written (the load failed)."""
        self._close()
        self._tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()
