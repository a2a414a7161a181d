"""Duplicate detection keeps one hash per key in memory; a hash collision must never reject a row."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

from sqlalchemy import Engine

from billing.ingest.adapter import Record
from billing.ingest.adapters.fx_rates import FxRatesAdapter
from billing.ingest.errors import IngestError
from billing.ingest.pipeline import RowPipeline
from billing.models import FxRate

from .conftest import rows_in


class CollidingKeys(FxRatesAdapter):
    """Keys EUR → -1 and GBP → -2: in CPython hash(-1) == hash(-2), a guaranteed collision."""

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return ({"EUR": -1, "GBP": -2}.get(record["currency"], record["currency"]),)


def test_a_hash_collision_is_not_a_duplicate(engine: Engine, tmp_path: Path) -> None:
    assert hash(-1) == hash(-2)  # the premise of this test
    path = tmp_path / "fx.csv"
    path.write_text(
        "rate_date,currency,usd_per_unit\n2026-10-31,EUR,1.08\n2026-10-31,GBP,1.29\n",
        encoding="utf-8",
    )
    report = RowPipeline(CollidingKeys, path, batch_size=10).run(
        engine, skip_bad_rows=False, rejects_path=None
    )
    assert report.rows_loaded == 2 and rows_in(engine, FxRate.__table__) == 2


def test_a_true_duplicate_among_collisions_is_still_found(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "fx.csv"
    path.write_text(
        "rate_date,currency,usd_per_unit\n2026-10-31,EUR,1.08\n2026-10-31,GBP,1.29\n"
        "2026-11-01,EUR,1.09\n",
        encoding="utf-8",
    )
    try:
        RowPipeline(CollidingKeys, path, batch_size=10).run(
            engine, skip_bad_rows=False, rejects_path=None
        )
    except IngestError as error:
        assert [(e.row, e.reason) for e in error.errors] == [
            (4, "duplicate of line 2 (same rate_date, currency)")
        ]
    else:
        raise AssertionError("the duplicate EUR key was not reported")
