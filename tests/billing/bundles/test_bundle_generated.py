"""End to end on a generated month: every exception reconciliation raises round-trips through a bundle,
and its evidence is gathered without a tool failing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select

from billing.bundles import collect_bundle, load_bundle
from billing.db import transaction
from billing.ingest.folder import ingest_folder
from billing.models import Discrepancy
from billing.reconcile.run import reconcile
from billing.scenarios import generate_scenario
from tests.tools.case_world import wipe
from tools import EvidenceCache, ToolContext, gather_evidence, read_only_session


def test_generated_month_round_trips_and_gathers(engine: Engine, tmp_path: Path) -> None:
    generate_scenario(seed=11, accounts=8, months=1, start="2026-10", out=tmp_path / "scenario", fault_rate=0.9)
    ingest_folder(engine, tmp_path / "scenario")
    reconcile(engine, as_of=date(2027, 3, 1))
    with transaction(engine) as session:
        ids = session.scalars(select(Discrepancy.id).order_by(Discrepancy.id)).all()
        bundles = [collect_bundle(session, i) for i in ids]
    assert len(bundles) >= 5 and len({b.exception.rule for b in bundles}) >= 3
    with read_only_session(engine) as session:
        cache = EvidenceCache()
        failed = {i: [name for name, result in gather_evidence(
            ToolContext.for_exception(session, i, shared=cache)).items() if "error" in result] for i in ids}
    assert {i: f for i, f in failed.items() if f} == {}
    wipe(engine)
    with transaction(engine) as session:
        new_ids = [load_bundle(session, b) for b in bundles]
    with transaction(engine) as session:
        again = [collect_bundle(session, i) for i in new_ids]
    differing = [b.exception.natural_key for b, a in zip(bundles, again, strict=True)
                 if a.model_dump(mode="json") != b.model_dump(mode="json")]
    assert differing == []
