"""The audit trail: every step of every case, append-only, queryable per case.

Nodes do not write as they go (a node may run again when a case resumes); they add entries
to the state, numbered by their position in the case's trail. `write_entries` stores the
ones not yet stored, keyed by (thread, seq), so writing the same trail twice stores it once.
What is recorded: the inputs (case id, evidence hash), the tool results, the SOP passages
(ids and versions), backend, model, prompt version, tokens, latency, the output, the route
and its reasons, the reviewer and the decision, with timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.state import AuditEntry
from agent.upserts import insert_missing
from billing.models import AuditEvent, utcnow

#: The entry whose payload receives the full tool results when written (kept out of the
#: graph state twice over: the state already holds the evidence).
TOOL_RESULTS = "tool_results"


def entry(seq: int, event: str, actor: str, payload: dict[str, Any]) -> AuditEntry:
    """A new audit entry at position `seq` of the case's trail, stamped now."""
    return AuditEntry(seq=seq, event=event, actor=actor, payload=payload, at=utcnow().isoformat())


class Trail:
    """The entries a node adds, numbered after every entry of the case so far.

    `update()` is the node's state update: the pending entries with the new ones appended,
    and the next number (kept apart, because written entries leave the state)."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        self._pending: list[AuditEntry] = list(state.get("audit") or [])
        self._next: int = state.get("audit_next", len(self._pending))
        self.entries: list[AuditEntry] = []

    def add(self, event: str, actor: str, payload: dict[str, Any]) -> None:
        """Append one entry to this node's share of the trail."""
        self.entries.append(entry(self._next, event, actor, payload))
        self._next += 1

    def update(self) -> dict[str, Any]:
        """State update: pending entries plus this node's, and the next number."""
        return {"audit": [*self._pending, *self.entries], "audit_next": self._next}

    def written(self) -> dict[str, Any]:
        """State update after the pending entries and this node's were stored: none pending."""
        return {"audit": [], "audit_next": self._next}


def audit_rows(*, exception_id: int, thread_id: str, entries: Sequence[AuditEntry],
               evidence: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The `audit_events` rows of `entries` (the tool results put into their entry)."""
    rows = []
    for e in entries:
        payload = e["payload"]
        if e["event"] == TOOL_RESULTS and evidence is not None:
            payload = {**payload, "results": evidence}
        rows.append({"exception_id": exception_id, "thread_id": thread_id, "seq": e["seq"], "event": e["event"],
                     "actor": e["actor"], "payload": payload, "created_at": datetime.fromisoformat(e["at"])})
    return rows


def write_entries(
    session: Session,
    *,
    exception_id: int,
    thread_id: str,
    entries: Sequence[AuditEntry],
    evidence: dict[str, Any] | None = None,
) -> None:
    """Store the entries of `thread_id` not yet stored (safe to repeat: keyed by thread and seq)."""
    rows = audit_rows(exception_id=exception_id, thread_id=thread_id, entries=entries, evidence=evidence)
    insert_missing(session, AuditEvent.__table__, rows, keys=("thread_id", "seq"))


class AuditRecord(BaseModel):
    """One stored audit event, for reports and screens."""

    id: int
    exception_id: int
    thread_id: str
    seq: int
    event: str
    actor: str
    payload: dict[str, Any]
    created_at: datetime


def trail_of(session: Session, exception_id: int, *, event: str | None = None) -> list[AuditRecord]:
    """The whole trail of one exception, across its runs, in the order it happened."""
    query = select(AuditEvent).where(AuditEvent.exception_id == exception_id)
    if event is not None:
        query = query.where(AuditEvent.event == event)
    rows = session.scalars(query.order_by(AuditEvent.created_at, AuditEvent.thread_id, AuditEvent.seq))
    return [
        AuditRecord(id=r.id, exception_id=r.exception_id, thread_id=r.thread_id, seq=r.seq, event=r.event,
                    actor=r.actor, payload=r.payload, created_at=r.created_at)
        for r in rows
    ]
