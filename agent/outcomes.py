"""Writing a finished case: its run row, the rest of its audit trail, its exception's status.

One case is one `CaseWrite`. Alone (`triage triage`, a review decision) it is written at once,
in one transaction. In a batch, `GroupWriter` commits many cases together — one INSERT per
table for the whole group — because per-case transactions cost more than the case itself.
A case is durable once its group is committed; a batch stopped before that leaves those
exceptions `open`, and the next batch simply triages them again. If a group fails, its cases
are retried one by one so that one bad case cannot take its neighbours down with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine, bindparam, insert, update
from sqlalchemy.orm import Session

from agent.sessions import unit_of_work
from billing.models import AuditEvent, Discrepancy, ExceptionStatus, TriageRun, utcnow


@dataclass
class CaseWrite:
    """Everything `finalize` stores for one case."""

    exception_id: int
    thread_id: str
    status: ExceptionStatus
    run: dict[str, Any]  # triage_runs column values
    run_exists: bool  # a review already created the run row: update it instead
    audit_rows: list[dict[str, Any]] = field(default_factory=list)


class OutcomeWriter(Protocol):
    """Where `finalize` hands a finished case."""

    def write(self, case: CaseWrite) -> None: ...


def _store(session: Session, cases: list[CaseWrite]) -> None:
    new_runs = [c.run for c in cases if not c.run_exists]
    if new_runs:
        session.execute(insert(TriageRun), new_runs)
    for c in cases:
        if c.run_exists:
            session.execute(update(TriageRun).where(TriageRun.thread_id == c.thread_id)
                            .values({k: v for k, v in c.run.items() if k not in ("thread_id", "started_at")}))
    rows = [row for c in cases for row in c.audit_rows]
    if rows:
        session.execute(insert(AuditEvent), rows)
    # A case reconciliation closed meanwhile stays closed.
    session.connection().execute(
        update(Discrepancy.__table__)
        .where(Discrepancy.__table__.c.id == bindparam("eid"), Discrepancy.__table__.c.status != ExceptionStatus.CLOSED)
        .values(status=bindparam("new_status"), updated_at=bindparam("now")),
        [{"eid": c.exception_id, "new_status": c.status.value, "now": utcnow()} for c in cases],
    )


class ImmediateWriter:
    """Writes each case at once, in its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, case: CaseWrite) -> None:
        with unit_of_work(self.engine) as session:
            _store(session, [case])


class GroupWriter:
    """Buffers cases and commits them `size` at a time (and on `flush`). Thread-safe."""

    def __init__(self, engine: Engine, size: int = 50, on_failure: Callable[[int, str], None] | None = None) -> None:
        self.engine = engine
        self.size = size
        self.on_failure = on_failure
        self._pending: list[CaseWrite] = []
        self._lock = threading.Lock()

    def write(self, case: CaseWrite) -> None:
        with self._lock:
            self._pending.append(case)
            full = len(self._pending) >= self.size
        if full:
            self.flush()

    def flush(self) -> None:
        """Commit every buffered case; one by one if the group as a whole fails."""
        with self._lock:
            group, self._pending = self._pending, []
        if not group:
            return
        try:
            with unit_of_work(self.engine) as session:
                _store(session, group)
        except Exception:  # noqa: BLE001 - isolate the bad case, keep the others
            for case in group:
                try:
                    with unit_of_work(self.engine) as session:
                        _store(session, [case])
                except Exception as exc:  # noqa: BLE001 - reported, the exception stays open
                    if self.on_failure is None:
                        raise
                    self.on_failure(case.exception_id, f"{type(exc).__name__}: {exc}")
