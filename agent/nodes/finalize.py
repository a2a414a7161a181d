"""`finalize`: the outcome — the exception's status, the run, the rest of the audit trail —
handed to the outcome writer (at once alone; committed in groups during a batch).

Outcomes: auto-routed → `triaged` (a proposed resolution); approved or edited by a person →
`resolved`; rejected by a person → stays `in_review`, with the person, for manual handling.

The tool results and SOP passages leave the state here (they are in the audit trail now), so
the checkpoint written at the end of the run stays small.
"""

from __future__ import annotations

from typing import Any

from agent.audit import Trail, audit_rows
from agent.deps import TriageDeps
from agent.outcomes import CaseWrite
from agent.runs import run_values
from agent.state import TriageState
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
        trail = Trail(state)
        decision = state.get("decision")
        approved = bool(decision and decision["decision"] in ("approve", "edit"))
        trail.add("finalize", deps.actor, {
            "outcome": outcome.value, "route": state.get("route"), "reasons": state.get("route_reasons", []),
            "send_allowed": bool(state.get("send_allowed")) or approved,
            "classification": state.get("classification"), "draft": state.get("draft"),
            "decided_by": None if decision is None else decision["reviewer"],
            "llm_calls": state.get("llm_calls", 0), "input_tokens": state.get("input_tokens", 0),
            "output_tokens": state.get("output_tokens", 0),
        })
        # Entries still in the state were never written (a review writes and drops its own).
        rows = audit_rows(exception_id=state["exception_id"], thread_id=state["thread_id"],
                          entries=trail.update()["audit"], evidence=state.get("evidence"))
        assert deps.writer is not None
        deps.writer.write(CaseWrite(
            exception_id=state["exception_id"], thread_id=state["thread_id"], status=outcome,
            run=run_values(state, deps, status=RunStatus.DONE, outcome=outcome.value),
            run_exists=decision is not None, audit_rows=rows,
        ))
        return {"outcome": outcome.value, "evidence": {}, "sop_passages": [], **trail.written()}

    return finalize
