"""Real bad files: every bad row is reported with its line, field and reason, and nothing loads.

Line numbers are lines of the file, the CSV header being line 1 (issue 2: "every bad row is
reported with its row number, field and reason; a file with bad rows loads nothing").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, Table

from billing.ingest import IngestError, ingest_file
from billing.models import (
    BillingEvent,
    Contract,
    FxRate,
    IngestBatch,
    InvoiceLine,
    MeteringResult,
    Payment,
    UsageRecord,
)

from .conftest import FILES, SCENARIO, rows_in

CASES: list[tuple[str, str, Table, set[tuple[int, str]], str]] = [
    # kind, file, table that must stay empty, (line, field) pairs reported, a phrase of a reason
    (
        "payments",
        "payments_latin1.csv",
        Payment.__table__,
        {(3, "payer"), (3, "remittance_note")},
        "Société Générale",
    ),
    (
        "usage",
        "usage_missing_column.csv",
        UsageRecord.__table__,
        {(1, "quantity")},
        "missing from the header",
    ),
    (
        "usage",
        "usage_wrong_types.csv",
        UsageRecord.__table__,
        {
            (2, "quantity"),
            (3, "usage_hour"),
            (4, "quantity"),
            (5, "usage_hour"),
            (6, "usage_hour"),
            (7, "quantity"),
        },
        "scientific notation",
    ),
    (
        "usage",
        "usage_negative_quantity.csv",
        UsageRecord.__table__,
        {(3, "quantity")},
        "-5 is negative",
    ),
    (
        "fx-rates",
        "fx-rates_unknown_currency.csv",
        FxRate.__table__,
        {(3, "currency"), (4, "usd_per_unit")},
        "unknown currency 'XYZ'",
    ),
    (
        "usage",
        "usage_duplicate_ids.csv",
        UsageRecord.__table__,
        {(4, "record_id"), (5, "account_key, product_code, dimension_key, usage_hour")},
        "duplicate of line 2",
    ),
    (
        "billing-events",
        "billing-events_bad_dates.csv",
        BillingEvent.__table__,
        {(2, "invoice_date"), (3, "payment_due_date"), (4, "update_date")},
        "not a real date",
    ),
    ("payments", "payments_unquoted_comma.csv", Payment.__table__, {(3, "(row)")}, "double quotes"),
    (
        "usage",
        "usage_unknown_references.csv",
        UsageRecord.__table__,
        {(2, "account_key"), (3, "product_code"), (4, "dimension_key")},
        "unknown account_key 'NOBODY-9999'",
    ),
    (
        "invoices",
        "invoices_bad.csv",
        InvoiceLine.__table__,
        {(2, "invoice_number"), (3, "currency"), (4, "amount")},
        "30.13",
    ),
    (
        "metering",
        "metering_bad.jsonl",
        MeteringResult.__table__,
        {(2, "Results[0].UsageRecord.CustomerIdentifier"), (2, "Results[1].Status"), (3, "(row)")},
        "cust-Nobody",
    ),
]


@pytest.mark.parametrize(
    ("kind", "name", "table", "expected", "phrase"), CASES, ids=[c[1] for c in CASES]
)
def test_bad_file_reports_every_bad_row_and_loads_nothing(
    priced: Engine, kind: str, name: str, table: Table, expected: set[tuple[int, str]], phrase: str
) -> None:
    if kind in ("payments", "invoices"):  # payments and credits refer to invoices: have some stored
        ingest_file(priced, "invoices", SCENARIO / "invoices.csv")
    before = rows_in(priced, table)
    with pytest.raises(IngestError) as caught:
        ingest_file(priced, kind, FILES / name)
    error = caught.value
    assert {(e.row, e.field) for e in error.errors} == expected
    assert phrase in str(error)
    assert error.filename == name
    assert rows_in(priced, table) == before  # not one row of the file, good rows included
    assert "nothing was loaded" in str(error)


def test_no_batch_is_recorded_for_a_failed_file(priced: Engine) -> None:
    """A failed file must be loadable later once fixed: no ingest_batches row may claim its hash."""
    batches = rows_in(priced, IngestBatch.__table__)
    with pytest.raises(IngestError):
        ingest_file(priced, "usage", FILES / "usage_negative_quantity.csv")
    assert rows_in(priced, IngestBatch.__table__) == batches


def test_latin1_error_names_the_line_and_suggests_utf8(priced: Engine) -> None:
    with pytest.raises(IngestError) as caught:
        ingest_file(priced, "payments", FILES / "payments_latin1.csv")
    payer = next(e for e in caught.value.errors if e.field == "payer")
    assert payer.row == 3
    assert "E9" in payer.reason and "save the file as UTF-8" in payer.reason


def test_contracts_document_errors_carry_lines_and_paths(engine: Engine) -> None:
    """YAML numbers must be exact decimals (`3e-2` is refused, never a silent float); misspelt keys
    and references to a failing account are reported where they are written."""
    with pytest.raises(IngestError) as caught:
        ingest_file(engine, "contracts", FILES / "contracts_bad.yaml")
    found = {(e.row, e.field) for e in caught.value.errors}
    assert found == {
        (4, "accounts[0].aws_account_id"),
        (7, "accounts[1].aws_acount_id"),
        (15, "contracts[0].account_key"),
        (27, "contracts[1].channel"),
        (32, "contracts[1].listing_fee_rate"),
    }
    assert "which has errors" in str(caught.value)
    assert rows_in(engine, Contract.__table__) == 0


def test_an_empty_or_shapeless_contracts_document_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    empty = tmp_path / "contracts.yaml"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="the file is empty"):
        ingest_file(engine, "contracts", empty)
    listing = tmp_path / "list.yaml"
    listing.write_text("- account_key: A\n", encoding="utf-8")
    with pytest.raises(IngestError, match="must be a mapping"):
        ingest_file(engine, "contracts", listing)
    unknown = tmp_path / "sections.json"
    unknown.write_text('{"accounts": [], "customers": []}', encoding="utf-8")
    with pytest.raises(IngestError, match="customers: unknown section"):
        ingest_file(engine, "contracts", unknown)


@pytest.mark.parametrize(
    ("kind", "name", "reason"),
    [
        ("usage", "scenario/contracts.yaml", "must end in .csv or .jsonl"),
        ("nonsense", "usage_bom.csv", "unknown kind"),
        ("usage", "no_such_file.csv", "no such file"),
    ],
)
def test_wrong_kind_suffix_or_path_is_a_clear_error(
    engine: Engine, kind: str, name: str, reason: str
) -> None:
    with pytest.raises(IngestError, match=reason):
        ingest_file(engine, kind, FILES / name)
