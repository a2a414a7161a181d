"""`review`: the case waits for a person (one `interrupt()`), then takes their decision.

Before the interrupt only idempotent writes happen — the review item, the run row and the
audit entries so far are upserted, the exception marked in review — because the node runs
again from the top when the graph resumes. The interrupt is outside any try/except.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agent.audit import Trail, write_entries
from agent.deps import TriageDeps
from agent.review_queue import ReviewDecision, open_item, record_decision, set_exception_status
from agent.runs import save_run
from agent.sessions import unit_of_work
from agent.state import TriageState
from billing.models import ExceptionStatus, RunStatus


def make_review(deps: TriageDeps) -> Any:
    """The node, bound to its dependencies."""

    def review(state: TriageState) -> dict[str, Any]:
        with unit_of_work(deps.engine) as session:
            item_id = open_item(session, state)
            save_run(session, state, deps, status=RunStatus.WAITING_REVIEW)
            set_exception_status(session, state["exception_id"], ExceptionStatus.IN_REVIEW)
            write_entries(session, exception_id=state["exception_id"], thread_id=state["thread_id"],
                          entries=state.get("audit", []), evidence=state.get("evidence"))
        answer = interrupt({"item_id": item_id, "exception_id": state["exception_id"],
                            "round": state.get("review_round", 1), "reasons": state.get("route_reasons", [])})
        decision = ReviewDecision.model_validate(answer).as_state(item_id)
        trail = Trail(state)
        trail.add("review_decision", decision["reviewer"], dict(decision))
        with unit_of_work(deps.engine) as session:
            record_decision(session, state, decision)
            write_entries(session, exception_id=state["exception_id"], thread_id=state["thread_id"],
                          entries=trail.entries)
        updates: dict[str, Any] = {"decision": decision, **trail.written()}
        if decision["decision"] == "reclassify":
            updates.update(forced_category=decision["category"], reclassified_by=decision["reviewer"],
                           review_round=state.get("review_round", 1) + 1)
        elif decision["decision"] == "edit":
            if decision.get("draft") is not None:
                updates["draft"] = decision["draft"]
            if decision.get("category") and state.get("classification"):
                updates["classification"] = {**state["classification"], "category": decision["category"]}
        return updates

    return review
