"""Files that look unusual but are fine: a UTF-8 BOM, quoted commas and line breaks, JSONL usage."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from billing.ingest import IngestError, ingest_file
from billing.models import Payment, UsageRecord

from .conftest import FILES, SCENARIO, copy_to


def test_a_byte_order_mark_is_accepted(priced: Engine) -> None:
    """Excel's "CSV UTF-8" starts with a BOM; the first column must still be `record_id`."""
    report = ingest_file(priced, "usage", FILES / "usage_bom.csv")
    assert report.rows_loaded == 2
    with priced.connect() as conn:
        assert sorted(conn.execute(select(UsageRecord.source_record_id)).scalars()) == [
            "u-b1",
            "u-b2",
        ]


def test_quoted_commas_quotes_and_line_breaks_survive(priced: Engine) -> None:
    ingest_file(priced, "invoices", SCENARIO / "invoices.csv")
    report = ingest_file(priced, "payments", FILES / "payments_quoted_commas.csv")
    assert report.rows_loaded == 3
    with priced.connect() as conn:
        note, payer = conn.execute(
            select(Payment.remittance_note, Payment.payer).where(Payment.payment_id == "PAY-Q-0002")
        ).one()
    assert payer == "Initrode AG, Zürich"
    assert note == 'Ref: "Oct services"\nsecond line of the note'


def test_line_numbers_count_physical_lines_after_a_quoted_line_break(
    priced: Engine, tmp_path: Path
) -> None:
    """Record 3 of the file spans lines 3-4, so the record after the last one starts on line 6."""
    source = copy_to(tmp_path, "payments_quoted_commas.csv")
    with source.open("a", encoding="utf-8") as handle:
        handle.write(
            "PAY-Q-0004,,direct,bank_receipt,EUR,-80.00,2026-12-12,,SEPA-9,Umbrella Ltd,refund\n"
        )
    with pytest.raises(IngestError) as caught:
        ingest_file(priced, "payments", source)
    assert [(e.row, e.field) for e in caught.value.errors] == [(6, "amount")]


def test_usage_as_jsonl(priced: Engine) -> None:
    """JSONL usage: numbers may be JSON numbers (read as exact decimals) or strings; blank lines are skipped."""
    report = ingest_file(priced, "usage", FILES / "usage.jsonl")
    assert (report.rows_read, report.rows_loaded) == (3, 3)
    with priced.connect() as conn:
        quantities = dict(
            conn.execute(select(UsageRecord.source_record_id, UsageRecord.quantity)).all()
        )
    assert quantities == {"u-j1": Decimal(1250), "u-j2": Decimal("0.166667"), "u-j3": Decimal(0)}


def test_jsonl_missing_keys_and_objects_are_row_errors(priced: Engine, tmp_path: Path) -> None:
    path = tmp_path / "usage.jsonl"
    path.write_text(
        '{"record_id": "u-1", "account_key": "ACME-0001", "product_code": "4f8k2m9x1q7w3e5r6t0y2u8i", '
        '"dimension_key": "api_calls", "usage_hour": "2026-10-31T22:00:00Z"}\n'
        '["not", "an", "object"]\n'
        '{"record_id": {"nested": 1}, "account_key": "ACME-0001", "product_code": "4f8k2m9x1q7w3e5r6t0y2u8i", '
        '"dimension_key": "api_calls", "usage_hour": "2026-10-31T23:00:00Z", "quantity": 1}\n',
        encoding="utf-8",
    )
    with pytest.raises(IngestError) as caught:
        ingest_file(priced, "usage", path)
    assert [(e.row, e.field) for e in caught.value.errors] == [
        (1, "quantity"),
        (2, "(row)"),
        (3, "record_id"),
    ]
