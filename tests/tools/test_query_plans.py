"""The evidence reads start on indexes: no query the tools run scans a feed or ledger table.

A scan costs one pass over the table per case, and these tables grow every night; an index
lookup does not. Every statement a batch's evidence path runs (set-based read-ahead and the
per-case tools) is explained by SQLite and its plan checked."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event

import tools
from billing.db import make_engine
from billing.migrate import upgrade_engine
from tests.tools.conftest import reconciled_scenario

#: Tables that grow with the business (feeds, ledgers, messages): never scanned per case.
GROWING = ("billing_events", "usage_records", "metering_results", "partner_usage", "payments", "messages",
           "invoices", "invoice_lines", "credit_notes", "refund_requests", "agreements", "contracts")


def test_no_evidence_query_scans_a_growing_table(tmp_path: Path) -> None:
    path = tmp_path / "plans.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_engine(engine)
    ids = reconciled_scenario(engine, tmp_path / "scenario", seed=31)
    assert len(ids) >= 20

    statements: dict[str, Any] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.setdefault(statement, parameters)

    with tools.read_only_session(engine) as session:
        tools.gather_evidence_batch(session, ids, shared=tools.EvidenceCache(max_entries=8 * len(ids)))
        for exception_id in ids:
            tools.gather_evidence(tools.ToolContext.for_exception(session, exception_id))
    engine.dispose()
    assert len(statements) > 20

    raw = sqlite3.connect(path)
    scans = []
    for statement, parameters in statements.items():
        for *_, detail in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters):
            if detail.startswith("SCAN ") and detail.split()[1] in GROWING:
                scans.append(f"{detail}: {' '.join(statement.split())[:300]}")
    raw.close()
    assert scans == []
