"""A partner row naming a marketplace product id no product of the contracts carries is a bad
row, said the same way by every partner feed (billing events, partner usage)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine

from billing.ingest import IngestError, ingest_file

from .conftest import SCENARIO


def _with_unknown_product(tmp_path: Path, name: str) -> Path:
    """A copy of the scenario's `name` whose first row names the product `prod-nosuch`."""
    with (SCENARIO / name).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["product_id"] = "prod-nosuch"
    target = tmp_path / name
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return target


@pytest.mark.parametrize(("kind", "name"), [("billing-events", "billing-events.csv"),
                                            ("partner-usage", "partner-usage.csv")])
def test_an_unknown_product_id_is_a_bad_row(priced: Engine, tmp_path: Path, kind: str, name: str) -> None:
    with pytest.raises(IngestError) as caught:
        ingest_file(priced, kind, _with_unknown_product(tmp_path, name))
    (error,) = [e for e in caught.value.errors if e.field == "product_id"]
    assert error.row == 2
    assert error.reason == (
        "unknown product_id 'prod-nosuch' (no product has this marketplace_product_id in contracts)"
    )
