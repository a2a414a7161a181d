"""Group commit of finished cases (`StagedWriter`), and SOP passages cached per (category, channel)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine, func, select

from agent.llm.base import SopPassage
from agent.outcomes import CaseWrite
from agent.retrieval import CachedRetriever
from agent.staging import StagedWriter
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


def _written(writer: StagedWriter, case: CaseWrite) -> None:
    """What the runner does: finalize stages the write, the returned run releases it."""
    writer.write(case)
    writer.release(case.thread_id)


def test_group_is_committed_when_full_or_flushed(engine: Engine) -> None:
    ids = [add_exception(engine, n=n) for n in range(5)]
    writer = StagedWriter(engine, size=3)
    writer.write(_write(ids[0], "held"))  # staged, never released: its run did not return
    assert _statuses(engine) == Counter({"open": 5})
    for n, exception_id in enumerate(ids[1:]):
        _written(writer, _write(exception_id, f"t{n}"))
    assert _statuses(engine) == Counter({"triaged": 3, "open": 2})  # the first group of three
    writer.flush()
    assert _statuses(engine) == Counter({"triaged": 4, "open": 1})
    writer.discard("held")
    writer.flush()
    assert _statuses(engine) == Counter({"triaged": 4, "open": 1})


def test_one_bad_case_does_not_sink_its_group(engine: Engine) -> None:
    """A thread id already stored breaks the unique key of triage_runs: only that case fails."""
    ids = [add_exception(engine, n=n) for n in range(3)]
    failed: dict[int, str] = {}
    writer = StagedWriter(engine, size=10, on_failure=failed.__setitem__)
    _written(writer, _write(ids[0], "same"))
    writer.flush()
    _written(writer, _write(ids[1], "other"))
    _written(writer, _write(ids[2], "same"))
    writer.flush()
    assert list(failed) == [ids[2]] and "IntegrityError" in failed[ids[2]]
    assert _statuses(engine) == Counter({"triaged": 2, "open": 1})
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(TriageRun)) == 2


def test_a_closed_exception_stays_closed(engine: Engine) -> None:
    exception_id = add_exception(engine, status="closed")
    writer = StagedWriter(engine)
    _written(writer, _write(exception_id, "t"))
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
