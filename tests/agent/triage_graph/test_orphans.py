"""A review item and its interrupt live in two stores: a crash between the two writes must not
leave an item nobody can decide, and one made otherwise is found and requeued (issue 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from agent.audit import trail_of
from agent.review_queue import ORPHAN_EVENT, ReviewDecision, pending_items, store_reviews
from agent.runner import Triage
from agent.sessions import unit_of_work
from agent.staging import StagedWriter
from billing.db import session_factory
from billing.models import AuditEvent, Discrepancy, ReviewItem, TriageRun
from tests.agent.triage_graph.conftest import TriageFactory
from tests.agent.triage_graph.fakes import add_exception


class Crash(BaseException):
    """The process stopping dead (not an error a case could catch)."""


def _material(engine: Engine, n: int = 0) -> int:
    return add_exception(engine, expected="25000.00", observed="5000.00", n=n)


def _status(engine: Engine, exception_id: int) -> str:
    with session_factory(engine)() as session:
        row = session.get(Discrepancy, exception_id)
        assert row is not None
        return row.status


def _count(engine: Engine, model: Any) -> int:
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_crash_before_the_checkpoint_leaves_no_review_item(engine: Engine, make_triage: TriageFactory) -> None:
    triage = make_triage()
    exception_id = _material(engine)

    def die(*_args: Any, **_kwargs: Any) -> Any:
        raise Crash

    saver = triage.checkpointer
    real_put = saver.put
    saver.put = die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        triage.case(exception_id)
    saver.put = real_put  # type: ignore[method-assign]
    # Nothing of the run was committed: no item without its interrupt, and the case is still open.
    assert (_count(engine, ReviewItem), _count(engine, TriageRun), _status(engine, exception_id)) == (0, 0, "open")
    assert make_triage().repair_orphans() == []
    # The next run triages it anew, and its item can be decided.
    outcome = triage.case(exception_id)
    assert outcome.status == "waiting_review" and outcome.review_item_id is not None
    done = triage.resume(outcome.review_item_id, ReviewDecision(decision="approve", reviewer="ana"))
    assert done.status == "resolved"


def test_an_item_whose_checkpoint_is_gone_is_found_and_requeued(engine: Engine, make_triage: TriageFactory,
                                                                 tmp_path: Path) -> None:
    batch = make_triage()
    exception_id = _material(engine)
    stopped = batch.case(exception_id)
    assert stopped.review_item_id is not None and _status(engine, exception_id) == "in_review"
    # The store that holds the interrupt finds nothing to repair.
    assert batch.repair_orphans() == []

    # Another checkpoint store (lost, or not the one the batch used): the item mirrors nothing.
    elsewhere = make_triage(checkpoint_url=f"sqlite:///{tmp_path}/other-checkpoints.db")
    [listed] = elsewhere.repair_orphans(dry_run=True)  # changes nothing
    assert (listed.item_id, listed.requeued, _status(engine, exception_id)) == (stopped.review_item_id, False,
                                                                                "in_review")
    [repair] = elsewhere.repair_orphans(rerun=True)
    assert (repair.item_id, repair.exception_id, repair.requeued) == (stopped.review_item_id, exception_id, True)
    with session_factory(engine)() as session:
        assert session.scalars(select(ReviewItem).where(ReviewItem.thread_id == stopped.thread_id)).all() == []
        old_run = session.scalars(select(TriageRun).where(TriageRun.thread_id == stopped.thread_id)).one()
        [event] = trail_of(session, exception_id, event=ORPHAN_EVENT)
    assert old_run.status == "failed" and "no pending review" in (old_run.error or "")
    assert event.thread_id == stopped.thread_id and event.payload["item_id"] == stopped.review_item_id
    # Re-run at once: a new item, which this store can resume.
    assert repair.rerun is not None and repair.rerun.status == "waiting_review"
    assert repair.rerun.review_item_id is not None
    done = elsewhere.resume(repair.rerun.review_item_id, ReviewDecision(decision="approve", reviewer="ana"))
    assert done.status == "resolved" and _status(engine, exception_id) == "resolved"
    assert elsewhere.repair_orphans() == []


def test_without_rerun_the_exception_is_open_for_the_next_batch(engine: Engine, make_triage: TriageFactory,
                                                                tmp_path: Path) -> None:
    exception_id = _material(engine)
    make_triage().case(exception_id)
    elsewhere = make_triage(checkpoint_url=f"sqlite:///{tmp_path}/other-checkpoints.db")
    [repair] = elsewhere.repair_orphans()
    assert repair.rerun is None and _status(engine, exception_id) == "open"
    with session_factory(engine)() as session:
        assert pending_items(session) == []
    summary = elsewhere.batch(progress=False)
    assert summary.by_status["waiting_review"] == 1


def test_storing_a_review_twice_stores_it_once(engine: Engine, make_triage: TriageFactory) -> None:
    triage = make_triage()
    exception_id = _material(engine)
    captured = StagedWriter(engine)
    with triage._writing(captured):  # noqa: SLF001 - capture the staged writes of one run
        outcome = triage._run_case(exception_id, None, captured)  # noqa: SLF001
    captured.flush()
    assert outcome.status == "waiting_review"
    with session_factory(engine)() as session:
        item = session.scalars(select(ReviewItem)).one()
        write = _review_write_of(triage, item.thread_id)
    events_before = _count(engine, AuditEvent)
    with unit_of_work(engine) as session:
        store_reviews(session, [write, write])
    assert (_count(engine, ReviewItem), _count(engine, TriageRun), _count(engine, AuditEvent)) == (1, 1, events_before)


def _review_write_of(triage: Triage, thread_id: str) -> Any:
    """The review write of a waiting thread, rebuilt from its checkpoint (what a resumed node stages again)."""
    from agent.nodes.review import review_write

    state = triage.graph.get_state({"configurable": {"thread_id": thread_id}}).values
    return review_write(state, triage.deps)  # type: ignore[arg-type]


def test_a_stopped_batch_commits_the_runs_that_returned_and_leaves_the_rest_open(
        engine: Engine, make_triage: TriageFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [add_exception(engine, n=n, expected="25000.00" if n % 2 else "1000.00") for n in range(5)]
    triage = make_triage()
    run_case = triage._run_case  # noqa: SLF001

    def ctrl_c_before_the_fourth(exception_id: int, *args: Any) -> Any:
        if exception_id == ids[3]:
            raise KeyboardInterrupt
        return run_case(exception_id, *args)

    monkeypatch.setattr(triage, "_run_case", ctrl_c_before_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        triage.batch(progress=False, group_size=50, concurrency=1)
    statuses = [_status(engine, i) for i in ids]
    assert statuses == ["triaged", "in_review", "triaged", "open", "open"], statuses
    # What was stored can be decided; what was not is triaged by the next batch.
    again = make_triage()
    assert again.repair_orphans() == []
    summary = again.batch(progress=False)
    assert summary.cases == 2 and summary.failed == []
