"""The shared two-pass core: validate the whole file, then load it in one transaction.

Pass 1 converts every row and keeps only the errors and one hash per natural key (so a file
of millions of rows is checked in bounded memory). A hash seen twice is only a *suspect*: a
short extra pass re-reads the file to confirm true duplicates and name the first line, so a
hash collision can never reject a good row. If any row is bad the file loads nothing (unless
`skip_bad_rows`). Pass 2 converts again and stores batches of `batch_size` records with one
executemany each, inside the same transaction as the `ingest_batches` row: all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from billing.ingest.adapter import Record, RowAdapter
from billing.ingest.batches import already_loaded, close_batch, loaded_meanwhile, open_batch
from billing.ingest.errors import IngestError, RowError
from billing.ingest.inserts import count_rows
from billing.ingest.reading import (
    CsvSource,
    JsonlSource,
    RawRow,
    scalar_text,
    sha256_of,
    sniff_problems,
)
from billing.ingest.rejects import RejectsWriter, default_rejects_path
from billing.ingest.report import IngestReport


class Source(Protocol):
    def rows(self, tolerant: bool = False) -> Iterator[RawRow]: ...


class RowPipeline:
    """Validates and loads one file through one `RowAdapter`."""

    def __init__(self, adapter_cls: type[RowAdapter], path: Path, *, batch_size: int) -> None:
        self.adapter_cls = adapter_cls
        self.kind = adapter_cls.kind
        self.path = path
        self.batch_size = batch_size
        self.is_csv = path.suffix.lower() == ".csv"
        self.source: Source = CsvSource(path) if self.is_csv else JsonlSource(path)
        self.header: list[str] | None = None
        self.tolerant = False  # becomes True once the file turned out not to be UTF-8
        self._missing_optional: list[str] = []

    # -- the public entry -------------------------------------------------------------------

    def run(
        self, engine: Engine, *, skip_bad_rows: bool, rejects_path: Path | None
    ) -> IngestReport:
        """Validate, then load (or raise `IngestError` with every problem; nothing is stored)."""
        sha256 = sha256_of(self.path)
        target = rejects_path or default_rejects_path(self.path)
        with engine.connect() as conn, RejectsWriter(target, None) as rejects:
            try:
                with conn.begin():
                    done = already_loaded(conn, self.kind, sha256, self.path.name)
                    if done is not None:
                        return done
                    report = self._run_in(conn, sha256, skip_bad_rows, rejects)
            except IntegrityError:
                rejects.discard()
                # Another process may have loaded the same bytes meanwhile: then its load stands.
                done = loaded_meanwhile(conn, self.kind, sha256, self.path.name)
                if done is None:
                    raise
                return done
            # Committed: only now does the rejects file appear (a failed load leaves none).
            report.rejects_path = rejects.publish()
        return report

    def _run_in(
        self, conn: Connection, sha256: str, skip_bad_rows: bool, rejects: RejectsWriter
    ) -> IngestReport:
        self._fail_on(sniff_problems(self.path))
        if self.is_csv:
            self._fail_on(self._header_problems())
            rejects.columns = self.header
        adapter = self.adapter_cls(conn)
        errors, rows_read = self._validate(adapter)
        if errors and not skip_bad_rows:
            raise IngestError(
                self.path.name, self.kind, [e for es in errors.values() for e in es], rows_read
            )
        report = IngestReport(
            kind=self.kind, filename=self.path.name, sha256=sha256, rows_read=rows_read
        )
        report.batch_id = adapter.batch_id = open_batch(conn, self.kind, self.path, sha256)
        before = count_rows(conn, adapter.table)
        report.rows_loaded = self._load(conn, adapter, errors, rejects)
        report.rows_rejected = rejects.count
        report.records_new = count_rows(conn, adapter.table) - before
        close_batch(conn, report.batch_id, report)
        return report

    # -- pass 1 ------------------------------------------------------------------------------

    def _validate(self, adapter: RowAdapter) -> tuple[dict[int, list[RowError]], int]:
        try:
            return self._validate_once(adapter)
        except UnicodeDecodeError:
            # Not UTF-8: read again, decoding leniently, so each bad row is named by its line.
            self.tolerant = True
            if self.is_csv:
                self._fail_on(self._header_problems())
            return self._validate_once(adapter)

    def _validate_once(self, adapter: RowAdapter) -> tuple[dict[int, list[RowError]], int]:
        adapter.reset()
        errors: dict[int, list[RowError]] = {}
        labels = adapter.key_labels
        seen: list[set[int]] = [set() for _ in labels]
        suspects: list[set[int]] = [set() for _ in labels]
        rows_read = 0
        observes = type(adapter).observe is not RowAdapter.observe  # skip a no-op call per row
        for raw in self.source.rows(self.tolerant):
            rows_read += 1
            records, row_errors = self._convert(adapter, raw)
            if observes:
                adapter.observe(raw.line, raw.values, records)
            if row_errors:
                errors[raw.line] = row_errors
                continue
            for record in records:
                for key, hashes, suspected in zip(adapter.keys(record), seen, suspects):
                    digest = hash(key)
                    if digest in hashes:
                        suspected.add(digest)
                    else:
                        hashes.add(digest)
        del seen
        if any(suspects):
            for error in self._confirm_duplicates(adapter, set(errors), suspects):
                errors.setdefault(error.row, []).append(error)
        for error in adapter.after_validation(set(errors)):
            errors.setdefault(error.row, []).append(error)
        return errors, rows_read

    def _confirm_duplicates(
        self, adapter: RowAdapter, bad: set[int], suspects: list[set[int]]
    ) -> list[RowError]:
        first_seen: dict[tuple[str, Any], tuple[int, int]] = {}
        found: list[RowError] = []
        for raw in self.source.rows(self.tolerant):
            if raw.line in bad:
                continue
            records, _ = self._convert(adapter, raw)
            for position, record in enumerate(records):
                for label, key, suspected in zip(
                    adapter.key_labels, adapter.keys(record), suspects
                ):
                    if hash(key) not in suspected:
                        continue
                    first = first_seen.setdefault((label, key), (raw.line, position))
                    if first != (raw.line, position):
                        found.append(
                            RowError(
                                raw.line, label, f"duplicate of line {first[0]} (same {label})"
                            )
                        )
        return found

    # -- pass 2 ------------------------------------------------------------------------------

    def _load(
        self,
        conn: Connection,
        adapter: RowAdapter,
        errors: dict[int, list[RowError]],
        rejects: RejectsWriter,
    ) -> int:
        adapter.before_load(conn)
        loaded = 0
        batch: list[Record] = []
        for raw in self.source.rows(self.tolerant):
            row_errors = errors.get(raw.line)
            if row_errors is not None:
                rejects.write(raw, row_errors)
                continue
            records, _ = self._convert(adapter, raw)
            batch.extend(records)
            loaded += 1
            if len(batch) >= self.batch_size:
                adapter.load(conn, batch)
                batch = []
        adapter.load(conn, batch)
        return loaded

    # -- shared ------------------------------------------------------------------------------

    def _convert(self, adapter: RowAdapter, raw: RawRow) -> tuple[list[Record], list[RowError]]:
        if raw.problems or raw.values is None:
            return [], list(raw.problems)
        errors: list[RowError] = []
        values = raw.values
        if adapter.flat and (self._missing_optional or not self.is_csv):
            values = self._flat_values(adapter, raw, errors)
            if errors:
                return [], errors
        records = adapter.convert(raw.line, values, errors)
        return (records, errors) if not errors else ([], errors)

    def _flat_values(
        self, adapter: RowAdapter, raw: RawRow, errors: list[RowError]
    ) -> dict[str, str]:
        if self.is_csv:  # only called when optional columns are missing from the header
            values: dict[str, str] = raw.values
            for name in self._missing_optional:
                values[name] = ""
            return values
        if not isinstance(raw.values, dict):
            errors.append(RowError(raw.line, "(row)", "is not a JSON object"))
            return {}
        flat: dict[str, str] = {}
        for name in adapter.columns + adapter.optional_columns:
            if name not in raw.values:
                if name in adapter.columns:
                    errors.append(RowError(raw.line, name, "is missing"))
                flat[name] = ""
                continue
            text = scalar_text(raw.values[name])
            if text is None:
                errors.append(
                    RowError(raw.line, name, "is an object or array; a single value is required")
                )
            else:
                flat[name] = text
        return flat

    def _header_problems(self) -> list[RowError]:
        assert isinstance(self.source, CsvSource)
        try:
            header = self.source.header(self.tolerant)
        except UnicodeDecodeError:
            self.tolerant = True
            header = self.source.header(True)
        except Exception as exc:  # noqa: BLE001 - csv.Error and friends: the header is unreadable
            return [RowError(1, "(header)", f"cannot be read as CSV ({exc})")]
        self.header = header
        problems = [
            RowError(
                1,
                name,
                f"column is missing from the header (found: {', '.join(header) or 'nothing'})",
            )
            for name in self.adapter_cls.columns
            if name not in header
        ]
        problems += [
            RowError(1, name, "column appears more than once in the header")
            for name in sorted({n for n in header if header.count(n) > 1})
        ]
        self._missing_optional = [n for n in self.adapter_cls.optional_columns if n not in header]
        return problems

    def _fail_on(self, problems: list[RowError]) -> None:
        if problems:
            raise IngestError(self.path.name, self.kind, problems)
