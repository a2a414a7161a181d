"""A chunk of cases read set-based (`tools.prefetch`) gathers exactly the evidence each case
gathers alone, over a generated month with every kind of fault."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select

from billing.bundles.fetch.usage import boundary_ranges, hours_named_in
from billing.bundles.scope import BOUNDARY_HOURS
from billing.models import Discrepancy
from tests.tools.conftest import reconciled_scenario
from tools import EvidenceCache, ToolContext, gather_evidence, gather_evidence_batch, read_only_session
from tools.prefetch import MESSAGES, PARTNER_USAGE, USAGE_DAYS, prefetch_contexts


@pytest.fixture
def generated(engine: Engine, tmp_path: Path) -> list[int]:
    """A reconciled, generated scenario (two months, faults everywhere); the exceptions' ids."""
    return reconciled_scenario(engine, tmp_path / "scenario", seed=23)


def test_a_prefetched_chunk_gathers_the_same_evidence_as_each_case_alone(engine: Engine, generated: list[int]) -> None:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    with read_only_session(engine) as session:
        rules = set(session.scalars(select(Discrepancy.rule)))
        alone = {i: gather_evidence(ToolContext.for_exception(session, i)) for i in generated}
        cache = EvidenceCache()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            contexts = prefetch_contexts(session, generated, shared=cache)
            prefetch_statements = len(statements)
            # Out of order, as threads of a batch may run them.
            batch = {i: gather_evidence(contexts[i]) for i in generated[::-1]}
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert len(generated) >= 20 and len(rules) >= 6
    assert set(batch) == set(alone)
    assert [i for i in generated if batch[i] != alone[i]] == []
    # One query per table for the chunk (per usage window or period for the usage tables): exceptions with
    # accounts, messages; per window our usage by day, the partner's, our hours at each of the two boundaries,
    # the metering counts and the metering records not accepted; and our hours the exceptions name.
    windows = {c.scope().usage_window for c in contexts.values()}
    assert prefetch_statements <= 3 + 6 * len(windows) and len(windows) <= 2
    ctx = contexts[generated[0]]
    assert (MESSAGES,) in ctx.cache
    assert any(cache.pinned((USAGE_DAYS, c.account_id, c.scope().usage_window)) is not None for c in contexts.values())
    assert any(cache.pinned((PARTNER_USAGE, c.scope().aws_account_id, c.scope().usage_window)) is not None
               for c in contexts.values())
    # The tools took their slices of those rows instead of asking again.
    later = statements[prefetch_statements:]
    assert not [s for s in later if "FROM partner_usage" in s or "FROM messages" in s]
    assert not [s for s in later if "sum(usage_records.quantity)" in s]
    assert not [s for s in later if "FROM metering_results" in s]
    # Hourly rows too, at the boundaries and at the hours an exception names outside them.
    def names_hours_outside(ctx: ToolContext) -> bool:
        scope = ctx.scope()
        ranges = boundary_ranges(scope, BOUNDARY_HOURS)
        return any(not any(lo <= h < hi for lo, hi in ranges) for h in hours_named_in(scope.details, scope))

    assert any("get_usage_summary" in batch[i] and names_hours_outside(contexts[i]) for i in generated)
    assert not [s for s in later if "FROM usage_records" in s]


def test_gather_evidence_batch_is_gather_evidence_per_case(engine: Engine, generated: list[int]) -> None:
    from tools import ToolScopeError

    some = generated[:: max(1, len(generated) // 8)]
    with read_only_session(engine) as session:
        alone = [gather_evidence(ToolContext.for_exception(session, i)) for i in some]
        assert list(gather_evidence_batch(session, some).values()) == alone
        with pytest.raises(ToolScopeError):  # an id that is not there fails as it does alone
            gather_evidence_batch(session, [some[0], 10**9])
