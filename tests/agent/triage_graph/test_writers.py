"""Group commit of finished cases, and SOP passages cached per (category, channel)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine, func, select

from agent.llm.base import SopPassage
from agent.outcomes import CaseWrite, GroupWriter
from agent.retrieval import CachedRetriever
from billing.db import session_factory
from billing.models import Discrepancy, ExceptionStatus, TriageRun
from tests.agent.triage_graph.fakes import add_exception


def _write(exception_id: int, thread: str) -> CaseWrite:
    run = {"thread_id": thread, "exception_id": exception_id, "status": "done", "backend": "fake", "model": "m",
           "prompt_version": "p", "evidence_hash": "h", "route_reasons": [], "verify_problems": [],
           "llm_calls": 0, "input_tokens": 0, "output_tokens": 0, "latency_ms": 0.0, "outcome": "triaged"}
    return CaseWrite(exception_id=exception_id, thread_id=thread, status=ExceptionStatus.TRIAGED, run=run,
                     run_exists=False)


def _statuses(engine: Engine) -> Counter[str]:
    with session_factory(engine)() as session:
        return Counter(dict(session.execute(select(Discrepancy.status, func.count()).group_by(Discrepancy.status)).all()))


def test_group_is_committed_when_full_or_flushed(engine: Engine) -> None:
    ids = [add_exception(engine, n=n) for n in range(5)]
    writer = GroupWriter(engine, size=3)
    for n, exception_id in enumerate(ids):
        writer.write(_write(exception_id, f"t{n}"))
    assert _statuses(engine) == Counter({"triaged": 3, "open": 2})  # the first group of three
    writer.flush()
    assert _statuses(engine) == Counter({"triaged": 5})


def test_one_bad_case_does_not_sink_its_group(engine: Engine) -> None:
    """A thread id used twice breaks the unique key of triage_runs: only that case fails."""
    ids = [add_exception(engine, n=n) for n in range(3)]
    failed: dict[int, str] = {}
    writer = GroupWriter(engine, size=10, on_failure=failed.__setitem__)
    writer.write(_write(ids[0], "same"))
    writer.write(_write(ids[1], "other"))
    writer.write(_write(ids[2], "same"))
    writer.flush()
    assert list(failed) == [ids[2]] and "IntegrityError" in failed[ids[2]]
    assert _statuses(engine) == Counter({"triaged": 2, "open": 1})
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(TriageRun)) == 2


def test_a_closed_exception_stays_closed(engine: Engine) -> None:
    exception_id = add_exception(engine, status="closed")
    writer = GroupWriter(engine)
    writer.write(_write(exception_id, "t"))
    writer.flush()
    assert _statuses(engine) == Counter({"closed": 1})


def test_retriever_searches_once_per_category_and_channel() -> None:
    searched: list[tuple[str, str | None, int]] = []

    def search_one(category: str, channel: str | None, k: int) -> list[SopPassage]:
        searched.append((category, channel, k))
        return [SopPassage(chunk_id=f"{category}#{i}", sop_id=category, version="1", heading=f"h{i}", text="t",
                           categories=[category]) for i in range(k)]

    retriever = CachedRetriever(search_one)
    first = retriever(["dropped_metering", "wrong_dimension", "timing_difference"], "aws_marketplace")
    again = retriever(["dropped_metering", "wrong_dimension"], "aws_marketplace")
    other_channel = retriever(["dropped_metering"], "reseller")
    # Most likely category first and with more passages: 3, 2, 1.
    assert [p.chunk_id for p in first] == ["dropped_metering#0", "dropped_metering#1", "dropped_metering#2",
                                           "wrong_dimension#0", "wrong_dimension#1", "timing_difference#0"]
    assert [p.chunk_id for p in again] == [p.chunk_id for p in first][:5]
    assert len(other_channel) == 3
    assert retriever.searches == 4 and len(searched) == 4
