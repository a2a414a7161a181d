"""`finalize`: write the outcome in one transaction — the exception's status, the run, the
rest of the audit trail.

Outcomes: auto-routed → `triaged` (a proposed resolution); approved or edited by a person →
`resolved`; rejected by a person → stays `in_review`, with the person, for manual handling.
"""

from __future__ import annotations

from typing import Any

from agent.audit import Trail, write_entries
from agent.deps import TriageDeps
from agent.review_queue import set_exception_status
from agent.runs import save_run
from agent.state import TriageState
from billing.db import transaction
from billing.models import ExceptionStatus, RunStatus


def outcome_of(state: TriageState) -> ExceptionStatus:
    """The exception status this case ends in."""
    decision = state.get("decision")
    if state.get("route") == "auto" or decision is None:
        return ExceptionStatus.TRIAGED
    if decision["decision"] == "reject":
        return ExceptionStatus.IN_REVIEW
    return ExceptionStatus.RESOLVED


def make_finalize(deps: TriageDeps) -> Any:
    """The node, bound to its dependencies."""

    def finalize(state: TriageState) -> dict[str, Any]:
        outcome = outcome_of(state)
        trail = Trail(state.get("audit"))
        decision = state.get("decision")
        trail.add("finalize", deps.actor, {
            "outcome": outcome.value, "route": state.get("route"), "reasons": state.get("route_reasons", []),
            "send_allowed": bool(state.get("send_allowed")) or bool(decision and decision["decision"] in ("approve", "edit")),
            "classification": state.get("classification"), "draft": state.get("draft"),
            "decided_by": None if decision is None else decision["reviewer"],
            "llm_calls": state.get("llm_calls", 0), "input_tokens": state.get("input_tokens", 0),
            "output_tokens": state.get("output_tokens", 0),
        })
        entries = [*state.get("audit", []), *trail.entries]
        with transaction(deps.engine) as session:
            save_run(session, state, deps, status=RunStatus.DONE, outcome=outcome.value)
            set_exception_status(session, state["exception_id"], outcome)
            write_entries(session, exception_id=state["exception_id"], thread_id=state["thread_id"],
                          entries=entries, evidence=state.get("evidence"))
        return {"outcome": outcome.value, "audit": trail.entries}

    return finalize
