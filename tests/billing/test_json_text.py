"""`billing.json_text` writes the text the standard encoder wrote, so evidence hashes and
verify's searchable text do not change with the faster encoder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from billing import json_text
from billing.ingest.folder import ingest_folder
from billing.models import Discrepancy
from billing.reconcile.run import reconcile
from billing.scenarios import generate_scenario
from tools import ToolContext, gather_evidence, read_only_session


def standard(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


class Status(StrEnum):
    OPEN = "open"


@dataclass
class Span:
    lo: int


def test_the_values_records_hold_are_written_as_the_standard_encoder_writes_them() -> None:
    value = {
        "amount": Decimal("1234.5600"), "negative": Decimal("-0.01"), "exp": Decimal("1E+3"),
        "day": date(2026, 2, 28), "hour": datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
        "naive": datetime(2026, 3, 1, 12, 30, 15, 250), "status": Status.OPEN, "span": Span(3),
        "name": "Müller GmbH — €", "quote": 'a "b" \\ c\n', "ok": True, "none": None,
        "count": 12, "ratio": 0.25, 7: "integer key", "nested": [{"x": [1, "2", Decimal("3.0")]}],
    }
    assert json_text.dumps(value) == standard(value)
    assert json_text.dumps_bytes(value) == standard(value).encode()


def test_a_scenarios_evidence_is_written_byte_for_byte_as_before(sqlite_engine: Engine, tmp_path: Path) -> None:
    generate_scenario(seed=29, accounts=6, months=2, start="2026-09", out=tmp_path / "scenario", fault_rate=0.9)
    ingest_folder(sqlite_engine, tmp_path / "scenario")
    reconcile(sqlite_engine, as_of=date(2027, 3, 1))
    with read_only_session(sqlite_engine) as session:
        ids = list(session.scalars(select(Discrepancy.id).order_by(Discrepancy.id)))
        assert len(ids) >= 10
        for exception_id in ids:
            evidence = gather_evidence(ToolContext.for_exception(session, exception_id))
            assert json_text.dumps(evidence) == standard(evidence), exception_id
