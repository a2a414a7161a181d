"""Verify inside the graph: an invented amount or id gets ONE repair, then goes to a person."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from agent.audit import trail_of
from billing.db import session_factory
from tests.agent.triage_graph.conftest import TriageFactory
from tests.agent.triage_graph.fakes import FakeBackend, add_exception


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    """Nothing here depends on the database kind: SQLite only (the PostgreSQL runs are elsewhere)."""
    return sqlite_engine


def test_invented_amount_repaired_once(engine: Engine, make_triage: TriageFactory, backend: FakeBackend) -> None:
    backend.invent_amount = "4,321.00"
    exception_id = add_exception(engine)
    outcome = make_triage().case(exception_id)
    assert outcome.route == "auto" and outcome.problems == []
    assert outcome.values["repaired"] is True and "4,321.00" not in outcome.values["draft"]["body"]
    assert backend.calls == [f"classify:{exception_id}", f"draft:{exception_id}", f"repair:{exception_id}"]
    with session_factory(engine)() as session:
        [repair] = trail_of(session, exception_id, event="repair")
    assert repair.payload["problems"] == ["body: amount 'USD 4,321.00' is not in the evidence"]


def test_invented_amount_not_repaired_goes_to_a_person(engine: Engine, make_triage: TriageFactory,
                                                       backend: FakeBackend) -> None:
    backend.invent_amount, backend.repair_fixes = "4,321.00", False
    exception_id = add_exception(engine)
    outcome = make_triage().case(exception_id)
    assert outcome.route == "human"
    assert outcome.reasons == ["check failed: body: amount 'USD 4,321.00' is not in the evidence"]
    assert [c.split(":")[0] for c in backend.calls] == ["classify", "draft", "repair"]  # one repair only


def test_invented_id_not_repaired_goes_to_a_person(engine: Engine, make_triage: TriageFactory,
                                                   backend: FakeBackend) -> None:
    backend.invent_id, backend.repair_fixes = "INV-2026-9999", False
    outcome = make_triage().case(add_exception(engine))
    assert outcome.route == "human"
    assert outcome.reasons == ["check failed: body: identifier 'INV-2026-9999' is not in the evidence"]
