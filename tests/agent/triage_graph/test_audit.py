"""The audit trail: append-only, queryable per case, recording what DESIGN.md lists —
"inputs, tool results, SOP passages (ids and versions), backend and model, prompt version,
output, who approved, when"."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError

from agent.audit import trail_of
from billing.db import session_factory, transaction
from billing.models import AuditEvent, TriageRun
from tests.agent.triage_graph.conftest import TriageFactory
from tests.agent.triage_graph.fakes import add_exception


def test_trail_of_an_auto_case(engine: Engine, make_triage: TriageFactory) -> None:
    exception_id = add_exception(engine)
    outcome = make_triage().case(exception_id)
    with session_factory(engine)() as session:
        trail = {e.event: e for e in trail_of(session, exception_id)}
        run = session.scalars(select(TriageRun).where(TriageRun.thread_id == outcome.thread_id)).one()
    assert list(trail) == ["inputs", "tool_results", "sop_passages", "classification", "draft", "verify", "route",
                           "finalize"]
    digest = trail["inputs"].payload["evidence_hash"]
    assert len(digest) == 64 and trail["inputs"].payload["case_id"] == str(exception_id)
    assert trail["tool_results"].payload["results"]["records"]["usage_records"] == [{"id": "UR-0000-A"}, {"id": "UR-0000-B"}]
    assert {"chunk_id": "dropped_metering#decision-steps", "sop_id": "dropped_metering", "version": "2.1",
            "heading": "Decision steps"} in trail["sop_passages"].payload["passages"]
    call = trail["classification"].payload
    assert (call["backend"], call["model"], call["prompt_version"], call["input_tokens"], call["output_tokens"]) == (
        "fake", "fake-1", "test-1", 100, 20)
    assert call["output"]["category"] == "dropped_metering" and "latency_ms" in call
    assert trail["route"].payload["route"] == "auto" and trail["route"].payload["reasons"] == outcome.reasons
    assert trail["finalize"].payload["outcome"] == "triaged"
    assert all(e.actor == "agent:fake" for e in trail.values())
    assert (run.evidence_hash, run.llm_calls, run.input_tokens, run.route, run.outcome) == (digest, 2, 220, "auto", "triaged")


def test_trail_is_per_case(engine: Engine, make_triage: TriageFactory) -> None:
    triage = make_triage()
    first, second = add_exception(engine, n=1), add_exception(engine, n=2)
    triage.case(first)
    triage.case(second)
    with session_factory(engine)() as session:
        assert {e.exception_id for e in trail_of(session, first)} == {first}
        assert len(trail_of(session, second)) == 8


def test_orm_refuses_to_change_the_trail(engine: Engine, make_triage: TriageFactory) -> None:
    make_triage().case(add_exception(engine))
    with pytest.raises(PermissionError, match="append-only"), transaction(engine) as session:
        event = session.scalars(select(AuditEvent)).first()
        assert event is not None
        event.actor = "someone else"
    with pytest.raises(PermissionError, match="append-only"), transaction(engine) as session:
        event = session.scalars(select(AuditEvent)).first()
        session.delete(event)


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"])
def test_database_refuses_to_change_the_trail(engine: Engine, make_triage: TriageFactory, statement: str) -> None:
    """The migration's triggers stop raw SQL too, on SQLite and on PostgreSQL."""
    make_triage().case(add_exception(engine))
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events WHERE actor = 'agent:fake'")).scalar() == 8
