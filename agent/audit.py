"""The audit trail: every step of every case, append-only, queryable per case.

Nodes do not write as they go (a node may run again when a case resumes); they add entries
to the state, numbered by their position in the case's trail. `write_entries` stores the
ones not yet stored, keyed by (thread, seq), so writing the same trail twice stores it once.
What is recorded: the inputs (case id, evidence hash), the tool results, the SOP passages
(ids and versions), backend, model, prompt version, tokens, latency, the output, the route
and its reasons, the reviewer and the decision, with timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.state import AuditEntry
from billing.models import AuditEvent, utcnow

#: The entry whose payload receives the full tool results when written (kept out of the
#: graph state twice over: the state already holds the evidence).
TOOL_RESULTS = "tool_results"


def entry(seq: int, event: str, actor: str, payload: dict[str, Any]) -> AuditEntry:
    """A new audit entry at position `seq` of the case's trail, stamped now."""
    return AuditEntry(seq=seq, event=event, actor=actor, payload=payload, at=utcnow().isoformat())


class Trail:
    """Numbers the entries a node adds after those already in the state."""

    def __init__(self, existing: Sequence[AuditEntry] | None) -> None:
        self._next = len(existing or [])
        self.entries: list[AuditEntry] = []

    def add(self, event: str, actor: str, payload: dict[str, Any]) -> None:
        """Append one entry to this node's share of the trail."""
        self.entries.append(entry(self._next, event, actor, payload))
        self._next += 1


def write_entries(
    session: Session,
    *,
    exception_id: int,
    thread_id: str,
    entries: Sequence[AuditEntry],
    evidence: dict[str, Any] | None = None,
) -> int:
    """Store the entries of `thread_id` not yet stored; returns how many were added."""
    if not entries:
        return 0
    stored = set(session.scalars(select(AuditEvent.seq).where(AuditEvent.thread_id == thread_id)))
    rows = []
    for e in entries:
        if e["seq"] in stored:
            continue
        payload = dict(e["payload"])
        if e["event"] == TOOL_RESULTS and evidence is not None:
            payload["results"] = evidence
        rows.append(AuditEvent(
            exception_id=exception_id, thread_id=thread_id, seq=e["seq"], event=e["event"],
            actor=e["actor"], payload=payload, created_at=datetime.fromisoformat(e["at"]),
        ))
    session.add_all(rows)
    return len(rows)


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
