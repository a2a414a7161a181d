"""Writing a finished case: its run row, the rest of its audit trail, its exception's status.

One case is one `CaseWrite`. Alone (`triage triage`) it is written at once, in one
transaction (`ImmediateWriter`). In a batch, `agent.staging.StagedWriter` holds it until the
graph's checkpoint is saved and commits many cases together through `store_cases` — one
statement per table for the whole group — because per-case transactions cost more than the
case itself.
"""

from __future__ import annotations

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


def store_cases(session: Session, cases: list[CaseWrite]) -> None:
    """Store finished cases in `session`'s transaction: one statement per table for all of them."""
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
            store_cases(session, [case])
