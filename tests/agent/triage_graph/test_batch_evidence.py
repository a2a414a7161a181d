"""The batch's evidence path (`BatchTools`: chunks read ahead set-based, sessions and caches
shared) hands the graph exactly the case the per-case path does, on a generated scenario."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select

from agent.evidence import BatchTools, gather_case, tools_runner
from billing.db import session_factory
from billing.ingest.folder import ingest_folder
from billing.models import Discrepancy
from billing.reconcile.run import reconcile
from billing.scenarios import generate_scenario


def test_batch_tools_gather_the_same_cases_as_the_per_case_path(engine: Engine, tmp_path: Path) -> None:
    generate_scenario(seed=29, accounts=8, months=1, start="2026-10", out=tmp_path / "scenario", fault_rate=0.9)
    ingest_folder(engine, tmp_path / "scenario")
    reconcile(engine, as_of=date(2027, 3, 1))
    with session_factory(engine)() as session:
        ids = list(session.scalars(select(Discrepancy.id).order_by(Discrepancy.id)))
    assert len(ids) >= 10
    alone = {i: gather_case(engine, i, tools_runner) for i in ids}
    batch_tools = BatchTools(chunk_size=max(2, len(ids) // 3))  # several chunks
    batch_tools.plan(ids)
    try:
        batch = {i: gather_case(engine, i, batch_tools) for i in ids}
        assert batch_tools.exception_ahead(engine, ids[0]) == alone[ids[0]].exception  # read ahead, not queried again
    finally:
        batch_tools.close()
    differing = [i for i in ids if batch[i].model_dump() != alone[i].model_dump()]
    assert differing == []
    # A case the batch did not plan is gathered the per-case way.
    unplanned = BatchTools()
    try:
        assert gather_case(engine, ids[0], unplanned).model_dump() == alone[ids[0]].model_dump()
    finally:
        unplanned.close()
