"""What a bad input file is reported as: every bad row, with its line, field and reason."""

from __future__ import annotations

from dataclasses import dataclass

# The message lists this many errors; the full list stays on the exception (and in the rejects file).
_SHOWN = 50


@dataclass(frozen=True, order=True)
class RowError:
    """One problem with one field of one row.

    `row` is the 1-based line of the file where the row starts (the CSV header is line 1), or
    0 for a problem with the file as a whole (wrong kind, no such file); `field` names the
    column (or the JSON path) at fault, `(file)` / `(row)` when no single field is; `reason`
    says what is wrong in words a person can act on."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.row}" if self.row else "file"
        return f"{where}, {self.field}: {self.reason}"


class IngestError(Exception):
    """A file that did not load, with every error found in it. Nothing of the file was stored."""

    def __init__(
        self, filename: str, kind: str, errors: list[RowError], rows_read: int = 0
    ) -> None:
        self.filename = filename
        self.kind = kind
        self.errors = sorted(errors)
        self.rows_read = rows_read
        super().__init__(self._message())

    @property
    def bad_rows(self) -> int:
        """How many distinct rows (lines) have at least one error."""
        return len({e.row for e in self.errors})

    def _message(self) -> str:
        head = (
            f"{self.filename} ({self.kind}): {len(self.errors)} error(s) in {self.bad_rows} row(s)"
            f"{f' of {self.rows_read}' if self.rows_read else ''}; nothing was loaded"
        )
        lines = [head, *(f"  {e}" for e in self.errors[:_SHOWN])]
        if len(self.errors) > _SHOWN:
            lines.append(f"  ... and {len(self.errors) - _SHOWN} more")
        return "\n".join(lines)
