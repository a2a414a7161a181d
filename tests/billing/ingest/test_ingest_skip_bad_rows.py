"""`--skip-bad-rows`: the good rows load, the bad ones go to a rejects CSV with their reasons."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from billing.ingest import IngestError, ingest_file
from billing.ingest.adapters.usage import UsageAdapter
from billing.models import Invoice, InvoiceLine, UsageRecord

from .conftest import SCENARIO, copy_to, rows_in


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_good_rows_load_and_rejects_sit_beside_the_input(priced: Engine, tmp_path: Path) -> None:
    source = copy_to(tmp_path, "usage_wrong_types.csv")
    with source.open("a", encoding="utf-8") as handle:
        handle.write("u-7,ACME-0001,4f8k2m9x1q7w3e5r6t0y2u8i,api_calls,2026-11-01T01:00:00Z,42\n")
    report = ingest_file(priced, "usage", source, skip_bad_rows=True)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (7, 1, 6)
    assert report.rejects_path == tmp_path / "usage_wrong_types.rejects.csv"
    rejected = _rejects(report.rejects_path)
    assert [r["line"] for r in rejected] == ["2", "3", "4", "5", "6", "7"]
    assert (
        rejected[2]["error_fields"] == "quantity"
        and "scientific notation" in rejected[2]["error_reasons"]
    )
    assert (
        rejected[2]["quantity"] == "1e3" and rejected[2]["record_id"] == "u-3"
    )  # the row as written
    with priced.connect() as conn:
        assert conn.execute(select(UsageRecord.source_record_id)).scalars().all() == ["u-7"]


def test_rejects_path_can_be_chosen_and_reloading_is_a_no_op(
    priced: Engine, tmp_path: Path
) -> None:
    source = copy_to(tmp_path, "usage_negative_quantity.csv")
    target = tmp_path / "out" / "rejected.csv"
    report = ingest_file(priced, "usage", source, skip_bad_rows=True, rejects_path=target)
    assert report.rejects_path == target and [r["line"] for r in _rejects(target)] == ["3"]
    assert not (tmp_path / "usage_negative_quantity.rejects.csv").exists()
    again = ingest_file(priced, "usage", source, skip_bad_rows=True, rejects_path=target)
    assert again.already_loaded and rows_in(priced, UsageRecord.__table__) == 1


def test_a_clean_file_writes_no_rejects(priced: Engine, tmp_path: Path) -> None:
    source = copy_to(tmp_path, "usage.csv", SCENARIO)
    report = ingest_file(priced, "usage", source, skip_bad_rows=True)
    assert report.rows_rejected == 0 and report.rejects_path is None
    assert not list(tmp_path.glob("*.rejects.csv"))


def test_an_invoice_loads_whole_or_not_at_all(priced: Engine, tmp_path: Path) -> None:
    """One bad line rejects every line of its invoice: a half-loaded invoice would have wrong totals."""
    source = copy_to(tmp_path, "invoices_bad.csv")
    report = ingest_file(priced, "invoices", source, skip_bad_rows=True)
    assert (report.rows_loaded, report.rows_rejected) == (1, 3)
    with priced.connect() as conn:
        assert conn.execute(select(Invoice.invoice_number)).scalars().all() == ["INV-B-0003"]
    assert rows_in(priced, InvoiceLine.__table__) == 1
    reasons = {
        r["line"]: r["error_reasons"] for r in _rejects(tmp_path / "invoices_bad.rejects.csv")
    }
    assert "line 3 of it has errors" in reasons["2"]


def test_jsonl_rejects_keep_the_whole_line(priced: Engine, tmp_path: Path) -> None:
    source = copy_to(tmp_path, "metering_bad.jsonl")
    report = ingest_file(priced, "metering", source, skip_bad_rows=True)
    assert (report.rows_loaded, report.rows_rejected, report.records_new) == (1, 2, 1)
    rejected = _rejects(report.rejects_path)  # type: ignore[arg-type]
    assert (
        rejected[0]["record"].startswith('{"ProductCode"')
        and "cust-Nobody" in rejected[0]["record"]
    )


def test_a_load_that_fails_leaves_no_rows_and_no_rejects(
    priced: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or nothing: a failure in the middle of the load rolls back every batch already written."""
    source = copy_to(tmp_path, "usage.csv", SCENARIO)
    with source.open("a", encoding="utf-8") as handle:
        handle.write("u-bad,ACME-0001,4f8k2m9x1q7w3e5r6t0y2u8i,api_calls,2026-11-01T05:00:00Z,-1\n")
    calls = []
    real_load = UsageAdapter.load

    def load_then_fail(self: UsageAdapter, conn: object, records: list[dict[str, object]]) -> None:
        real_load(self, conn, records)  # type: ignore[arg-type]
        calls.append(len(records))
        if len(calls) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(UsageAdapter, "load", load_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_file(priced, "usage", source, skip_bad_rows=True, batch_size=2)
    assert rows_in(priced, UsageRecord.__table__) == 0
    assert not list(tmp_path.glob("*rejects*"))


def test_without_skip_a_bad_file_still_fails(priced: Engine, tmp_path: Path) -> None:
    with pytest.raises(IngestError):
        ingest_file(priced, "usage", copy_to(tmp_path, "usage_negative_quantity.csv"))
    assert not list(tmp_path.glob("*rejects*"))
