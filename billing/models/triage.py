"""What the triage agent did: its runs, the append-only audit trail, the review queue and the
case library of reviewed decisions.

The graph's own checkpoints live in LangGraph's saver (SQLite or PostgreSQL); these tables are
what people and screens read: every row names the exception it is about.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from billing.models.base import Base, utcnow


class RunStatus(enum.StrEnum):
    WAITING_REVIEW = "waiting_review"  # stopped at the review interrupt
    DONE = "done"  # finalized
    FAILED = "failed"  # an unexpected error stopped it; the exception stays open


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"  # mirrors a pending interrupt
    CLAIMED = "claimed"  # a decision is being applied (one reviewer at a time)
    DECIDED = "decided"


class ReviewDecisionKind(enum.StrEnum):
    APPROVE = "approve"
    EDIT = "edit"
    RECLASSIFY = "reclassify"
    REJECT = "reject"


class TriageRun(Base):
    """One pass of the graph over one exception (one LangGraph thread)."""

    __tablename__ = "triage_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(64), unique=True)
    exception_id: Mapped[int] = mapped_column(ForeignKey("exceptions.id"), index=True)
    batch_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    backend: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    prompt_version: Mapped[str] = mapped_column(String(32))
    evidence_hash: Mapped[str] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str | None] = mapped_column(String(32))
    escalate_to: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None]
    route: Mapped[str | None] = mapped_column(String(8))
    route_reasons: Mapped[list[Any]] = mapped_column(default=list)
    # Amount at stake converted to USD (None when no rate was found: routed to a person).
    amount_usd: Mapped[Decimal | None]
    verify_problems: Mapped[list[Any]] = mapped_column(default=list)
    # The exception status this run wrote (triaged / in_review / resolved).
    outcome: Mapped[str | None] = mapped_column(String(16))
    llm_calls: Mapped[int] = mapped_column(default=0)
    input_tokens: Mapped[int] = mapped_column(default=0)
    output_tokens: Mapped[int] = mapped_column(default=0)
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class AuditEvent(Base):
    """One step of the trail of a case. Append-only: rows are never updated or deleted.

    `(thread_id, seq)` is unique, so writing the same step twice (a node re-run after a
    resume) stores it once."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("thread_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exception_id: Mapped[int] = mapped_column(ForeignKey("exceptions.id"), index=True)
    thread_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int]
    # inputs | tool_results | sop_passages | classification | draft | verify | repair | route |
    # review_requested | review_decision | finalize | error
    event: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))  # "agent:<backend>" or the reviewer
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only(_mapper: Any, _connection: Any, target: AuditEvent) -> None:
    # The migration adds database triggers too; this catches it earlier, with a clearer error.
    raise PermissionError(f"audit_events is append-only (row {target.id})")


class ReviewItem(Base):
    """A case waiting for a person: mirrors one pending interrupt of the graph."""

    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("thread_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(64))
    # A reclassified case is redrafted and comes back for a second look: round 2, 3...
    round: Mapped[int] = mapped_column(default=1)
    exception_id: Mapped[int] = mapped_column(ForeignKey("exceptions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.PENDING, index=True)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    category: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str | None] = mapped_column(String(32))
    escalate_to: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None]
    amount_usd: Mapped[Decimal | None]
    draft: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    reviewer: Mapped[str | None] = mapped_column(String(128))
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_category: Mapped[str | None] = mapped_column(String(32))
    decided_draft: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class CaseExample(Base):
    """A labelled example from a person's review decision: the case library the offline
    backend learns from. Never an eval case (those live in `evals/cases/`, outside this table).

    One row per exception: a later decision on the same exception replaces the label."""

    __tablename__ = "case_examples"

    id: Mapped[int] = mapped_column(primary_key=True)
    exception_id: Mapped[int] = mapped_column(ForeignKey("exceptions.id"), unique=True)
    review_item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"))
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(7))
    # The case in words (description, kind, key figures): what nearest-neighbour search embeds.
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str | None] = mapped_column(String(32))
    escalate_to: Mapped[str | None] = mapped_column(String(16))
    # What the agent had proposed, and whether the person accepted it as it was.
    proposed_category: Mapped[str | None] = mapped_column(String(32))
    accepted: Mapped[bool]
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    draft: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    reviewer: Mapped[str] = mapped_column(String(128))
    evidence_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="review")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"  # not delivered yet: due at `next_attempt_at`
    DELIVERED = "delivered"
    FAILED = "failed"  # refused for good, or out of attempts: `last_error` says why


class Notification(Base):
    """The outbox: one message to one webhook, written in the same transaction as what it
    announces, delivered afterwards with retries (`agent.notifications`)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("event_key", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What it announces, e.g. `batch:b-1a2b3c` or `review:<thread>:<round>`: stored once per URL.
    event_key: Mapped[str] = mapped_column(String(160))
    url: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(32))
    exception_id: Mapped[int | None] = mapped_column(ForeignKey("exceptions.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
