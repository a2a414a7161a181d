"""The graph's state: plain, serialisable values only (ids, strings, numbers, lists, dicts).

Rich objects (rows, pydantic models) live in the database or are rebuilt from these values;
a checkpoint therefore holds JSON-like data that any process can load. Amounts are strings.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from agent.llm.base import CaseInput, OutsideText, SopPassage
from agent.schemas import Classification, Draft

Route = Literal["auto", "human"]


class AuditEntry(TypedDict):
    """One audit event not yet written; `seq` is its position in the case's trail."""

    seq: int
    event: str
    actor: str
    payload: dict[str, Any]
    at: str  # ISO timestamp


class StakeInfo(TypedDict):
    """The amount at stake of an exception and its USD equivalent (strings, or None if unknown)."""

    amount: str | None
    currency: str | None
    usd: str | None
    rate_date: str | None
    problem: str | None  # why the USD equivalent is unknown


class Decision(TypedDict, total=False):
    """A reviewer's decision, as the review node receives it on resume."""

    decision: str  # approve | edit | reclassify | reject
    reviewer: str
    reason: str | None
    category: str | None
    draft: dict[str, Any] | None
    item_id: int


class TriageState(TypedDict, total=False):
    """Everything one case carries through the graph."""

    # Given by the runner.
    exception_id: int
    thread_id: str
    batch_id: str | None
    started_at: str
    # gather
    exception: dict[str, Any]
    evidence: dict[str, Any]
    evidence_hash: str
    outside_text: list[dict[str, Any]]
    stake: StakeInfo
    # retrieve
    candidates: list[str]
    sop_passages: list[dict[str, Any]]
    # classify / draft / verify
    classification: dict[str, Any] | None
    draft: dict[str, Any] | None
    problems: list[str]
    repaired: bool
    backend_errors: list[str]
    # route
    route: Route
    route_reasons: list[str]
    send_allowed: bool
    # review: a reclassification sends the case round again, with the person's category
    review_round: int
    decision: Decision | None
    forced_category: str | None
    reclassified_by: str | None
    # finalize
    outcome: str
    # Running totals of what the backend cost.
    llm_calls: int
    input_tokens: int
    output_tokens: int
    latency_ms: float
    model: str
    # Audit entries not yet written (they are stored, idempotently by seq, at review and finalize),
    # and the number the next entry takes.
    audit: list[AuditEntry]
    audit_next: int


def case_input(state: TriageState) -> CaseInput:
    """The backend's view of the case, rebuilt from the plain state."""
    return CaseInput(
        case_id=str(state["exception_id"]),
        exception=state.get("exception", {}),
        evidence=state.get("evidence", {}),
        sop_passages=[SopPassage.model_validate(p) for p in state.get("sop_passages", [])],
        outside_text=[OutsideText.model_validate(t) for t in state.get("outside_text", [])],
        stake_usd=(state.get("stake") or {}).get("usd"),
    )


def classification_of(state: TriageState) -> Classification | None:
    """The classification in the state, validated again (None when the backend failed)."""
    raw = state.get("classification")
    return None if raw is None else Classification.model_validate(raw)


def draft_of(state: TriageState) -> Draft | None:
    """The draft in the state, validated again."""
    raw = state.get("draft")
    return None if raw is None else Draft.model_validate(raw)
