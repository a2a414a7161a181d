"""Writes held until the graph's checkpoint is saved, then committed many cases at a time.

A case that waits for review has two records: the interrupt in the checkpoint store and the
review item in the database. They cannot be written in one transaction (two stores), so the
order decides which half a crash can leave behind. The runner saves the checkpoint first (the
graph run returns only after it is saved) and only then commits the review item:

- a crash after the checkpoint, before the commit, leaves a thread waiting that nobody lists;
  the exception is still `open` (its status moves in the same transaction as the item), so
  the next batch triages it again on a new thread, and the stray thread harms nothing;
- a review item whose thread has no pending interrupt therefore cannot arise from a crash;
  one made otherwise (a checkpoint store lost or changed, rows from older versions) is found
  and repaired by `agent.runner.Triage.repair_orphans`.

`StagedWriter` keeps each graph thread's writes (the `review` node's `ReviewWrite`, the
`finalize` node's `CaseWrite`) apart until the runner `release`s the thread — after its run
returned — and commits released threads `size` at a time in one transaction: one statement
per table for the whole group, instead of a transaction per case. A failing group is retried
case by case so one bad case cannot take its neighbours down with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from agent.outcomes import CaseWrite, store_cases
from agent.review_queue import ReviewWrite, store_reviews
from agent.sessions import unit_of_work

Write = CaseWrite | ReviewWrite


def store_writes(session: Session, writes: list[Write]) -> None:
    """Store review and case writes in `session`'s transaction (reviews first: a resumed case's
    final write updates the run its review created)."""
    store_reviews(session, [w for w in writes if isinstance(w, ReviewWrite)])
    cases = [w for w in writes if isinstance(w, CaseWrite)]
    if cases:
        store_cases(session, cases)


class StagedWriter:
    """Holds each graph thread's writes until `release(thread_id)`, commits released ones in groups.

    Thread-safe. `flush()` commits what was released; `discard(thread_id)` drops the writes of a
    run that failed (nothing of it is stored: the exception stays as it was)."""

    def __init__(self, engine: Engine, size: int = 50, on_failure: Callable[[int, str], None] | None = None) -> None:
        self.engine = engine
        self.size = size
        self.on_failure = on_failure
        self._staged: dict[str, list[Write]] = {}
        self._released: list[Write] = []
        self._lock = threading.Lock()

    # -- what the nodes call ----------------------------------------------------------------

    def write(self, case: CaseWrite) -> None:
        """A finished case (from `finalize`)."""
        self._stage(case.thread_id, case)

    def stage_review(self, review: ReviewWrite) -> None:
        """A case about to wait for review (from `review`, before its interrupt)."""
        self._stage(review.thread_id, review)

    def _stage(self, thread_id: str, write: Write) -> None:
        with self._lock:
            self._staged.setdefault(thread_id, []).append(write)

    # -- what the runner calls --------------------------------------------------------------

    def release(self, thread_id: str, *, flush_when_full: bool = True) -> None:
        """The run of `thread_id` returned (its checkpoint is saved): its writes may be committed."""
        with self._lock:
            self._released.extend(self._staged.pop(thread_id, []))
            full = len(self._released) >= self.size
        if full and flush_when_full:
            self.flush()

    def discard(self, thread_id: str) -> None:
        """Drop the writes of a run that failed."""
        with self._lock:
            self._staged.pop(thread_id, None)

    def flush(self) -> None:
        """Commit every released write in one transaction; case by case if the group fails."""
        with self._lock:
            group, self._released = self._released, []
        if not group:
            return
        try:
            with unit_of_work(self.engine) as session:
                store_writes(session, group)
        except Exception:  # noqa: BLE001 - isolate the bad case, keep the others
            by_case: dict[str, list[Write]] = {}
            for w in group:
                by_case.setdefault(w.thread_id, []).append(w)
            for writes in by_case.values():
                try:
                    with unit_of_work(self.engine) as session:
                        store_writes(session, writes)
                except Exception as exc:  # noqa: BLE001 - reported, the exception stays as it was
                    if self.on_failure is None:
                        raise
                    self.on_failure(writes[0].exception_id, f"{type(exc).__name__}: {exc}")

    def pending(self) -> dict[str, Any]:
        """How many threads are staged and how many writes are released (for tests and logs)."""
        with self._lock:
            return {"staged_threads": len(self._staged), "released_writes": len(self._released)}
