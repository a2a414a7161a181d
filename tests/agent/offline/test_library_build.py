"""`triage library build` restates the reserved scenarios' exceptions as another tool's, to fit
the map of confidence for rules we do not know on library seeds (never on an eval set)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from agent.llm.offline.build import IMPORTED_KIND, IMPORTED_RULE, restate_as_imported
from agent.llm.offline.diagnosis import known_rule
from billing.db import transaction
from billing.migrate import create_engine_and_upgrade
from billing.models import Discrepancy


def test_restated_exceptions_look_imported(tmp_path: Path) -> None:
    engine = create_engine_and_upgrade(f"sqlite:///{tmp_path / 'lib.db'}")
    with transaction(engine) as session:
        session.add(Discrepancy(
            natural_key="usage_vs_partner_usage:usage_shortfall:2026-08:A:p:d", rule="usage_vs_partner_usage",
            kind="usage_shortfall", channel="aws_marketplace", period="2026-08", currency="USD",
            expected_amount=Decimal("10"), observed_amount=Decimal("8"), delta_amount=Decimal("-2"),
            record_refs={"usage_records": ["1", "2"], "partner_usage": ["uf-1"], "contracts": ["CT-1"]},
            details={"boundary": {"our_last_hours_quantity": "5"}}, description="ours", evidence_hash="h"))
    restate_as_imported(engine)
    with transaction(engine) as session:
        exc = session.scalars(select(Discrepancy)).one()
        assert (exc.rule, exc.kind) == (IMPORTED_RULE, IMPORTED_KIND) and not known_rule(exc.rule)
        assert exc.details == {"source_system": IMPORTED_RULE}
        assert exc.record_refs == {"partner_usage": ["uf-1"]}  # our row ids and contract keys are internal
        assert exc.expected_amount == Decimal("10") and exc.delta_amount == Decimal("-2")
    engine.dispose()
