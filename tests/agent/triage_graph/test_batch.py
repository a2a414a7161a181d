"""Batches: every open exception, once; resumable (a second run finishes what the first left)."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

from sqlalchemy import Engine, func, select

from agent.evidence import ToolRunner
from billing.db import session_factory
from billing.models import Discrepancy, TriageRun
from tests.agent.triage_graph.conftest import TriageFactory
from tests.agent.triage_graph.fakes import FakeBackend, add_exception, fake_tools


def _statuses(engine: Engine) -> Counter[str]:
    with session_factory(engine)() as session:
        return Counter(dict(session.execute(select(Discrepancy.status, func.count()).group_by(Discrepancy.status)).all()))


def _failing_on(ids: set[int]) -> ToolRunner:
    def run(engine: Engine, exception_id: int) -> dict[str, Any]:
        if exception_id in ids:
            raise ConnectionError("database went away")
        return fake_tools(engine, exception_id)
    return run


def test_batch_triages_every_open_exception_once(engine: Engine, make_triage: TriageFactory,
                                                 backend: FakeBackend) -> None:
    ids = [add_exception(engine, n=n, expected="20000" if n % 3 == 0 else "1000") for n in range(9)]
    add_exception(engine, n=99, status="resolved")  # not open: left alone
    summary = make_triage().batch(concurrency=3, progress=False)
    assert summary.cases == 9 and summary.failed == []
    assert summary.by_status == Counter({"triaged": 6, "waiting_review": 3})
    assert summary.by_route == Counter({"auto": 6, "human": 3})
    assert sorted(c for c in backend.calls if c.startswith("classify")) == sorted(f"classify:{i}" for i in ids)
    assert _statuses(engine) == Counter({"triaged": 6, "in_review": 3, "resolved": 1})


def test_an_interrupted_batch_resumes_where_it_stopped(engine: Engine, make_triage: TriageFactory,
                                                       backend: FakeBackend) -> None:
    ids = [add_exception(engine, n=n) for n in range(6)]
    first = make_triage().batch(limit=4, progress=False, concurrency=1)  # stopped after four cases
    assert first.cases == 4
    second = make_triage().batch(progress=False, concurrency=2)
    assert second.cases == 2
    assert Counter(c.split(":")[1] for c in backend.calls if c.startswith("classify")) == Counter(
        {str(i): 1 for i in ids})
    assert make_triage().batch(progress=False).cases == 0  # nothing left


def test_a_failing_case_stays_open_and_is_retried(engine: Engine, make_triage: TriageFactory) -> None:
    ids = [add_exception(engine, n=n) for n in range(3)]
    summary = make_triage(run_tools=_failing_on({ids[1]})).batch(progress=False)
    assert summary.by_status == Counter({"triaged": 2, "failed": 1})
    assert summary.failed == [(ids[1], "ConnectionError: database went away")]
    assert _statuses(engine) == Counter({"triaged": 2, "open": 1})
    with session_factory(engine)() as session:
        failed = session.scalars(select(TriageRun).where(TriageRun.status == "failed")).one()
        assert failed.exception_id == ids[1] and failed.error == "ConnectionError: database went away"
    retry = make_triage().batch(progress=False)
    assert retry.cases == 1 and retry.by_status == Counter({"triaged": 1})


def test_backend_failure_routes_to_a_person(engine: Engine, make_triage: TriageFactory, backend: FakeBackend) -> None:
    backend.fail_classify = True
    outcome = make_triage().case(add_exception(engine))
    assert (outcome.status, outcome.route) == ("waiting_review", "human")
    assert outcome.reasons == ["backend failed after retries: classify: BackendError: server returned 503 after 4 retries"]


def test_period_filter(engine: Engine, make_triage: TriageFactory) -> None:
    add_exception(engine, n=1, period="2026-09")
    add_exception(engine, n=2, period="2026-10")
    assert make_triage().batch(period="2026-10", progress=False).cases == 1
    assert _statuses(engine) == Counter({"open": 1, "triaged": 1})


def test_a_batch_freezes_what_its_first_case_loaded_and_gives_it_back(engine: Engine,
                                                                      make_triage: TriageFactory) -> None:
    ids = [add_exception(engine, n=n) for n in range(3)]
    frozen_at_case: list[int] = []

    def run(engine: Engine, exception_id: int) -> dict[str, Any]:
        frozen_at_case.append(gc.get_freeze_count())
        return fake_tools(engine, exception_id)

    assert make_triage(run_tools=run).batch(progress=False, concurrency=1).cases == len(ids)
    assert frozen_at_case[0] == 0 and all(n > 0 for n in frozen_at_case[1:])
    assert gc.get_freeze_count() == 0
