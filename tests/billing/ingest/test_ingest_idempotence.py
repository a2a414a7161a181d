"""Loading again is harmless: the same bytes are skipped, overlapping files add only what is new,
and documents that change state (contracts, agreements, refunds, billing events) update it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from billing.ingest import ingest_file, pipeline
from billing.models import Account, Agreement, BillingEvent, Contract, ContractRate, UsageRecord

from .conftest import SCENARIO, copy_to, rows_in

USAGE_HEADER = "record_id,account_key,product_code,dimension_key,usage_hour,quantity\n"
P = "4f8k2m9x1q7w3e5r6t0y2u8i"


def test_same_bytes_under_another_name_are_skipped(priced: Engine, tmp_path: Path) -> None:
    first = ingest_file(priced, "usage", SCENARIO / "usage.csv")
    renamed = copy_to(tmp_path, "usage.csv", SCENARIO).rename(tmp_path / "usage-resent.csv")
    second = ingest_file(priced, "usage", renamed)
    assert second.already_loaded and second.batch_id == first.batch_id
    assert rows_in(priced, UsageRecord.__table__) == 6


def test_overlapping_usage_files_do_not_duplicate(priced: Engine, tmp_path: Path) -> None:
    """The natural key (account, product, dimension, hour) is what AWS deduplicates on; an hour
    sent twice is stored once, the first value kept (a retry with another quantity bills the original)."""
    older = tmp_path / "a.csv"
    older.write_text(
        USAGE_HEADER + f"u-1,ACME-0001,{P},api_calls,2026-10-31T22:00:00Z,10\n"
        f"u-2,ACME-0001,{P},api_calls,2026-10-31T23:00:00Z,20\n",
        encoding="utf-8",
    )
    newer = tmp_path / "b.csv"
    newer.write_text(
        USAGE_HEADER + f"u-2b,ACME-0001,{P},api_calls,2026-10-31T23:00:00Z,99\n"
        f"u-3,ACME-0001,{P},api_calls,2026-11-01T00:00:00Z,30\n",
        encoding="utf-8",
    )
    ingest_file(priced, "usage", older)
    report = ingest_file(priced, "usage", newer)
    assert (report.rows_loaded, report.records_new) == (2, 1)
    with priced.connect() as conn:
        quantities = (
            conn.execute(select(UsageRecord.quantity).order_by(UsageRecord.usage_hour))
            .scalars()
            .all()
        )
    assert quantities == [Decimal(10), Decimal(20), Decimal(30)]


def test_a_changed_contracts_document_updates_in_place(engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine, "contracts", SCENARIO / "contracts.yaml")
    changed = tmp_path / "contracts.yaml"
    text = (SCENARIO / "contracts.yaml").read_text(encoding="utf-8")
    text = text.replace("name: Acme Analytics Inc.", "name: Acme Analytics Holdings Inc.")
    text = text.replace(
        '{dimension_key: api_calls, unit_price: "0.0004"}',
        '{dimension_key: api_calls, unit_price: "0.00038"}',
    )
    text = text.replace(
        '      - {dimension_key: storage_gb, unit_price: "0.25", included_quantity: "10"}\n', ""
    )
    changed.write_text(text, encoding="utf-8")
    report = ingest_file(engine, "contracts", changed)
    assert report.records_new == 0  # nothing new: two items changed, one rate dropped
    with engine.connect() as conn:
        assert conn.execute(
            select(Account.name).where(Account.account_key == "ACME-0001")
        ).scalar_one() == ("Acme Analytics Holdings Inc.")
        rates = conn.execute(
            select(ContractRate.dimension_key, ContractRate.unit_price)
            .join(Contract, Contract.id == ContractRate.contract_id)
            .where(Contract.contract_key == "C-ACME-2026")
        ).all()
    assert [(d, p) for d, p in rates] == [("api_calls", Decimal("0.00038"))]
    assert rows_in(engine, Account.__table__) == 3 and rows_in(engine, Contract.__table__) == 3


def test_a_later_agreements_file_updates_the_status(priced: Engine, tmp_path: Path) -> None:
    """DOMAIN.md: agreement status includes SUPERSEDED and ROLLED_BACK; the newest feed is the state."""
    ingest_file(priced, "agreements", SCENARIO / "agreements.csv")
    later = tmp_path / "agreements-later.csv"
    later.write_text(
        (SCENARIO / "agreements.csv")
        .read_text(encoding="utf-8")
        .replace("NEW,,ACTIVE,USD,120000.00", "NEW,,SUPERSEDED,USD,120000.00"),
        encoding="utf-8",
    )
    ingest_file(priced, "agreements", later)
    with priced.connect() as conn:
        status = conn.execute(
            select(Agreement.status).where(
                Agreement.agreement_id == "agmt-0acme0000000000000000001"
            )
        ).scalar_one()
    assert status == "SUPERSEDED" and rows_in(priced, Agreement.__table__) == 3


def test_an_older_billing_event_version_never_overwrites_a_newer_one(
    priced: Engine, tmp_path: Path
) -> None:
    """DOMAIN.md: current state = latest update_date per id, whatever order the files arrive in."""
    lines = (SCENARIO / "billing-events.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    newest = [r for r in rows if r.startswith("be" + "7".zfill(38)) and "2026-11-02T06:00:00Z" in r]
    oldest = [
        r for r in rows if r.startswith("be" + "7".zfill(38)) and "2026-11-02T06:00:00Z" not in r
    ]
    (tmp_path / "new.csv").write_text(header + newest[0], encoding="utf-8")
    (tmp_path / "old.csv").write_text(header + oldest[0], encoding="utf-8")
    ingest_file(priced, "billing-events", tmp_path / "new.csv")
    ingest_file(priced, "billing-events", tmp_path / "old.csv")
    with priced.connect() as conn:
        amount = conn.execute(select(BillingEvent.amount)).scalar_one()
    assert amount == Decimal("-12.00")


def test_a_concurrent_load_of_the_same_bytes_is_a_no_op(
    priced: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes loading one file at once: the second one's batch row violates the unique
    (kind, sha256) of ingest_batches; its load is rolled back and reported as already loaded."""
    first = ingest_file(priced, "usage", SCENARIO / "usage.csv")
    # Make the second load miss the first one's batch at its start, as a concurrent process would.
    monkeypatch.setattr(pipeline, "already_loaded", lambda *args: None)
    second = ingest_file(priced, "usage", SCENARIO / "usage.csv")
    assert second.already_loaded and second.batch_id == first.batch_id
    assert rows_in(priced, UsageRecord.__table__) == 6
