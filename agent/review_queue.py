"""The review queue: a table mirroring the graph's pending interrupts, and the decisions on them.

The `review` node opens an item (idempotently) before it interrupts; a person's decision —
`approve`, `edit` (a changed draft and/or category), `reclassify` (another category: the
agent redrafts and asks again) or `reject` (with a reason) — is validated here, claimed so
that two reviewers cannot decide the same item, and applied by resuming the graph (see
`agent.runner.resume_review`), from any process. Every decision becomes a labelled example
in the case library (`case_examples`); eval cases never enter it (they run in their own
databases).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from agent.evidence import TEXTS
from agent.notifications import store_notices
from agent.schemas import Category, Draft
from agent.state import Decision, TriageState, case_input, classification_of
from agent.upserts import insert_missing
from agent.verify import check_edit
from billing.models import (
    AuditEvent,
    CaseExample,
    Discrepancy,
    ExceptionStatus,
    ReviewDecisionKind,
    ReviewItem,
    ReviewStatus,
    RunStatus,
    TriageRun,
    utcnow,
)
from billing.settings import Settings


class ReviewError(ValueError):
    """A decision that cannot be applied (unknown item, already decided, missing field)."""


class ReviewDecision(BaseModel):
    """A person's decision on a review item: validated before it resumes anything."""

    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecisionKind
    reviewer: str = Field(min_length=1, max_length=128)
    reason: str | None = None
    category: Category | None = None
    draft: Draft | None = None
    #: Keep an edit whose check found problems (`edit_problems`); they are recorded with it.
    accept_unverified: bool = False

    @model_validator(mode="after")
    def _fields_the_decision_needs(self) -> ReviewDecision:
        if not self.reviewer.strip():
            raise ValueError("reviewer must name a person")
        if self.decision is ReviewDecisionKind.RECLASSIFY and self.category is None:
            raise ValueError("reclassify needs --category")
        if self.decision is ReviewDecisionKind.EDIT and self.draft is None and self.category is None:
            raise ValueError("edit needs a changed draft (--draft-file) or a category (--category)")
        if self.decision is ReviewDecisionKind.REJECT and not (self.reason or "").strip():
            raise ValueError("reject needs a reason (--reason)")
        return self

    def as_state(self, item_id: int) -> Decision:
        """The plain form the graph receives on resume."""
        return Decision(decision=self.decision.value, reviewer=self.reviewer, reason=self.reason,
                        category=None if self.category is None else self.category.value,
                        draft=None if self.draft is None else self.draft.model_dump(mode="json"), item_id=item_id)


def edit_problems(state: TriageState, decision: ReviewDecision, settings: Settings) -> list[str]:
    """What the check of the agent's drafts finds in a person's edit (`agent.verify.check_edit`):
    a mistyped amount in an email to a partner is caught before anyone approves sending it."""
    if decision.decision is not ReviewDecisionKind.EDIT:
        return []
    return check_edit(case_input(state), classification_of(state), decision.draft, decision.category, settings,
                      TEXTS.get(state.get("evidence_hash", "")))


class ReviewItemView(BaseModel):
    """A review item as screens and the CLI show it."""

    id: int
    exception_id: int
    thread_id: str
    round: int
    status: str
    reasons: list[str]
    category: str | None
    action: str | None
    escalate_to: str | None
    confidence: float | None
    amount_usd: Decimal | None
    draft: dict[str, Any] | None
    created_at: datetime
    reviewer: str | None = None
    decision: str | None = None
    decision_reason: str | None = None


def _view(item: ReviewItem) -> ReviewItemView:
    return ReviewItemView(
        id=item.id, exception_id=item.exception_id, thread_id=item.thread_id, round=item.round, status=item.status,
        reasons=list(item.reasons), category=item.category, action=item.action, escalate_to=item.escalate_to,
        confidence=item.confidence, amount_usd=item.amount_usd, draft=item.draft, created_at=item.created_at,
        reviewer=item.reviewer, decision=item.decision, decision_reason=item.decision_reason,
    )


def item_values(state: TriageState) -> dict[str, Any]:
    """The `review_items` row of this thread and round, from what the state knows."""
    classification = state.get("classification") or {}
    stake = state.get("stake") or {}
    return {
        "thread_id": state["thread_id"], "round": state.get("review_round", 1), "exception_id": state["exception_id"],
        "status": ReviewStatus.PENDING.value, "reasons": list(state.get("route_reasons", [])),
        "category": classification.get("category"), "action": classification.get("action"),
        "escalate_to": classification.get("escalate_to"), "confidence": classification.get("confidence"),
        "amount_usd": None if stake.get("usd") is None else Decimal(str(stake["usd"])),
        "draft": state.get("draft"), "created_at": utcnow(),
    }


def item_id_of(session: Session, thread_id: str, round_: int) -> int | None:
    """The id of the item of `thread_id` and `round_`, if it was stored."""
    return session.execute(
        select(ReviewItem.id).where(ReviewItem.thread_id == thread_id, ReviewItem.round == round_)).scalar_one_or_none()


def open_item(session: Session, state: TriageState) -> int:
    """The id of the item for this thread and round, created if new (safe to call again on resume)."""
    insert_missing(session, ReviewItem.__table__, [item_values(state)], keys=("thread_id", "round"))
    item_id = item_id_of(session, state["thread_id"], state.get("review_round", 1))
    assert item_id is not None
    return item_id


@dataclass
class ReviewWrite:
    """What the `review` node stores before a case waits: the item, the run, the trail so far
    and the exception's status. Every part is keyed (item by thread and round, run by thread,
    audit entries by thread and seq), so storing the same write twice stores it once."""

    exception_id: int
    thread_id: str
    round: int
    item: dict[str, Any]  # review_items column values
    run: dict[str, Any]  # triage_runs column values
    audit_rows: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)  # `agent.notifications` rows


def store_reviews(session: Session, writes: Sequence[ReviewWrite]) -> None:
    """Store review writes, one statement per table for all of them (idempotent, see `ReviewWrite`)."""
    if not writes:
        return
    insert_missing(session, ReviewItem.__table__, [w.item for w in writes], keys=("thread_id", "round"))
    insert_missing(session, TriageRun.__table__, [w.run for w in writes], keys=("thread_id",))
    insert_missing(session, AuditEvent.__table__, [r for w in writes for r in w.audit_rows], keys=("thread_id", "seq"))
    store_notices(session, [n for w in writes for n in w.notices])
    table = Discrepancy.__table__
    # A case reconciliation closed meanwhile stays closed.
    session.connection().execute(
        update(table).where(table.c.id == bindparam("eid"), table.c.status != ExceptionStatus.CLOSED)
        .values(status=ExceptionStatus.IN_REVIEW.value, updated_at=bindparam("now")),
        [{"eid": w.exception_id, "now": utcnow()} for w in writes],
    )


def item_ids(session: Session, threads: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The item ids of (thread, round) pairs, for those stored (one query per 500 pairs)."""
    found: dict[tuple[str, int], int] = {}
    wanted = set(threads)
    names = sorted({t for t, _ in wanted})
    for i in range(0, len(names), 500):
        rows = session.execute(select(ReviewItem.thread_id, ReviewItem.round, ReviewItem.id)
                               .where(ReviewItem.thread_id.in_(names[i:i + 500])))
        found.update({(t, r): item for t, r, item in rows if (t, r) in wanted})
    return found


def pending_items(session: Session, *, limit: int = 200) -> list[ReviewItemView]:
    """Items waiting for a decision, oldest first."""
    rows = session.scalars(
        select(ReviewItem).where(ReviewItem.status == ReviewStatus.PENDING).order_by(ReviewItem.created_at, ReviewItem.id)
        .limit(limit)
    )
    return [_view(r) for r in rows]


def get_item(session: Session, item_id: int) -> ReviewItemView:
    """One item, whatever its status."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise ReviewError(f"review item {item_id} does not exist")
    return _view(item)


def claim(session: Session, item_id: int) -> ReviewItem:
    """Take a pending item for one decision; fails if it is decided or being decided."""
    claimed = session.execute(
        update(ReviewItem).where(ReviewItem.id == item_id, ReviewItem.status == ReviewStatus.PENDING)
        .values(status=ReviewStatus.CLAIMED)
    ).rowcount
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise ReviewError(f"review item {item_id} does not exist")
    if claimed != 1:
        raise ReviewError(f"review item {item_id} is {item.status}, not pending: it cannot be decided again")
    return item


def release(session: Session, item_id: int) -> None:
    """Give a claimed item back to the queue (the decision could not be applied)."""
    session.execute(
        update(ReviewItem).where(ReviewItem.id == item_id, ReviewItem.status == ReviewStatus.CLAIMED)
        .values(status=ReviewStatus.PENDING)
    )


def case_text(state: TriageState) -> str:
    """The case in the words the offline backend's nearest-neighbour search embeds."""
    # Imported here: the offline backend (numpy, its library) loads only when a person decides.
    from agent.llm.offline.backend import feature_text
    from agent.llm.offline.signals import Facts

    return feature_text(Facts(case_input(state)))


def record_decision(session: Session, state: TriageState, decision: Decision) -> None:
    """Mark the item decided and store the labelled example (idempotent: a re-run changes nothing)."""
    item = session.scalars(
        select(ReviewItem).where(ReviewItem.thread_id == state["thread_id"],
                                 ReviewItem.round == state.get("review_round", 1))
    ).one()
    if item.status == ReviewStatus.DECIDED:
        return
    now = utcnow()
    item.status, item.decided_at = ReviewStatus.DECIDED, now
    item.reviewer, item.decision, item.decision_reason = decision["reviewer"], decision["decision"], decision.get("reason")
    item.decided_category, item.decided_draft = decision.get("category"), decision.get("draft")
    _store_example(session, state, item, decision, now)


def _store_example(session: Session, state: TriageState, item: ReviewItem, decision: Decision, now: datetime) -> None:
    exc = state.get("exception", {})
    proposed = item.category
    kind = decision["decision"]
    category = decision.get("category") or proposed or Category.OTHER.value
    classification = state.get("classification") or {}
    same_category = category == proposed
    action = classification.get("action") if same_category else None
    escalate_to = classification.get("escalate_to") if same_category else None
    draft = decision.get("draft") or (item.draft if kind in ("approve", "edit") else None)
    values: dict[str, Any] = {
        "review_item_id": item.id, "rule": exc.get("rule", ""), "kind": exc.get("kind", ""),
        "channel": exc.get("channel", ""), "period": exc.get("period", ""), "text": case_text(state),
        "category": category, "action": action, "escalate_to": escalate_to, "proposed_category": proposed,
        # Whether the agent's category was right: approved, or edited with the category kept.
        "accepted": kind in ("approve", "edit") and same_category, "decision": kind,
        "reason": decision.get("reason"), "draft": draft, "reviewer": decision["reviewer"],
        "evidence_hash": state.get("evidence_hash", ""), "source": "review", "updated_at": now,
    }
    example = session.scalars(select(CaseExample).where(CaseExample.exception_id == state["exception_id"])).one_or_none()
    if example is None:
        session.add(CaseExample(exception_id=state["exception_id"], created_at=now, **values))
        return
    if item.round > 1 and example.evidence_hash == values["evidence_hash"]:
        # A later round of the same case: the agent's first proposal, and whether it was right, stand.
        values.pop("proposed_category")
        values.pop("accepted")
    for key, value in values.items():
        setattr(example, key, value)


ORPHAN_EVENT = "review_orphan_requeued"


def requeue_orphan(session: Session, item_id: int, reason: str, *, actor: str = "system:repair") -> bool:
    """Take a pending item whose graph thread has no pending interrupt out of the queue: the item
    goes (it mirrors nothing), its run is marked failed with `reason`, the exception is `open`
    again (the next batch triages it anew) and the trail records what was done — appended,
    never rewritten. False if the item is no longer pending (a person took it meanwhile)."""
    item = session.get(ReviewItem, item_id)
    if item is None or item.status != ReviewStatus.PENDING:
        return False
    thread_id, exception_id, round_ = item.thread_id, item.exception_id, item.round
    deleted = session.execute(
        delete(ReviewItem).where(ReviewItem.id == item_id, ReviewItem.status == ReviewStatus.PENDING)).rowcount
    if deleted != 1:
        return False
    now = utcnow()
    session.execute(update(TriageRun).where(TriageRun.thread_id == thread_id)
                    .values(status=RunStatus.FAILED.value, error=reason, finished_at=now))
    set_exception_status(session, exception_id, ExceptionStatus.OPEN)
    last = session.execute(select(func.max(AuditEvent.seq)).where(AuditEvent.thread_id == thread_id)).scalar()
    insert_missing(session, AuditEvent.__table__, [{
        "exception_id": exception_id, "thread_id": thread_id, "seq": (last if last is not None else -1) + 1,
        "event": ORPHAN_EVENT, "actor": actor, "created_at": now,
        "payload": {"item_id": item_id, "round": round_, "reason": reason},
    }], keys=("thread_id", "seq"))
    return True


def set_exception_status(session: Session, exception_id: int, status: ExceptionStatus) -> None:
    """Move the exception to `status`, unless reconciliation closed it meanwhile."""
    session.execute(
        update(Discrepancy).where(Discrepancy.id == exception_id, Discrepancy.status != ExceptionStatus.CLOSED)
        .values(status=status.value, updated_at=utcnow())
    )
