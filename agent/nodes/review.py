"""`review`: the case waits for a person (one `interrupt()`), then takes their decision.

Before the interrupt only idempotent writes happen — the review item, the run row and the
audit entries so far are upserted, the exception marked in review — because the node runs
again from the top when the graph resumes. Under the runner they are staged, and committed
only after the checkpoint holding the interrupt is saved (`agent.staging`). The interrupt is
outside any try/except.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agent.audit import Trail, audit_rows, write_entries
from agent.deps import TriageDeps
from agent.review_queue import (
    ReviewDecision,
    ReviewError,
    ReviewWrite,
    edit_problems,
    item_id_of,
    item_values,
    record_decision,
    store_reviews,
)
from agent.notifications import review_notices
from agent.runs import run_values
from agent.sessions import unit_of_work
from agent.state import TriageState
from agent.verify import unique
from billing.models import RunStatus


def review_write(state: TriageState, deps: TriageDeps) -> ReviewWrite:
    """What is stored before the case waits: its item, its run, its trail so far, its status, and,
    outside a batch (which sends one notice for all its cases when it ends), its notices."""
    item, round_ = item_values(state), state.get("review_round", 1)
    notices = [] if state.get("batch_id") else review_notices(
        deps.settings.notifications, thread_id=state["thread_id"], round=round_,
        exception_id=state["exception_id"], item=item)
    return ReviewWrite(
        exception_id=state["exception_id"], thread_id=state["thread_id"], round=round_,
        item=item, run=run_values(state, deps, status=RunStatus.WAITING_REVIEW),
        audit_rows=audit_rows(exception_id=state["exception_id"], thread_id=state["thread_id"],
                              entries=state.get("audit", []), evidence=state.get("evidence")),
        notices=notices,
    )


def make_review(deps: TriageDeps) -> Any:
    """The node, bound to its dependencies."""

    def review(state: TriageState) -> dict[str, Any]:
        write = review_write(state, deps)
        stage = getattr(deps.writer, "stage_review", None)
        item_id: int | None = None
        if stage is not None:
            # The runner commits it once the run returned, i.e. after the checkpoint holding the
            # interrupt is saved (see `agent.staging`): a stored item always has its interrupt.
            stage(write)
        else:
            with unit_of_work(deps.engine) as session:
                store_reviews(session, [write])
                item_id = item_id_of(session, write.thread_id, write.round)
        answer = interrupt({"item_id": item_id, "exception_id": state["exception_id"],
                            "round": write.round, "reasons": state.get("route_reasons", [])})
        trail = Trail(state)
        with unit_of_work(deps.engine) as session:
            # Resumed: the item was stored when the case stopped (it is what the person decided on).
            item_id = item_id if item_id is not None else item_id_of(session, write.thread_id, write.round)
            if item_id is None:
                raise ReviewError(f"thread {write.thread_id} round {write.round} has no review item")
            choice = ReviewDecision.model_validate(answer)
            decision = choice.as_state(item_id)
            # An edit kept despite its check's problems (the runner refuses it otherwise): on record.
            unverified = edit_problems(state, choice, deps.settings)
            trail.add("review_decision", decision["reviewer"],
                      {**decision, **({"unverified": unverified} if unverified else {})})
            record_decision(session, state, decision)
            write_entries(session, exception_id=state["exception_id"], thread_id=state["thread_id"],
                          entries=trail.entries)
        updates: dict[str, Any] = {"decision": decision, **trail.written()}
        if decision["decision"] == "reclassify":
            updates.update(forced_category=decision["category"], reclassified_by=decision["reviewer"],
                           review_round=state.get("review_round", 1) + 1)
        elif decision["decision"] == "edit":
            # The problems of what the person kept: their draft's own, or the agent's draft's and the edit's.
            updates["problems"] = (unverified if decision.get("draft") is not None
                                   else unique([*state.get("problems", []), *unverified]))
            if decision.get("draft") is not None:
                updates["draft"] = decision["draft"]
            if decision.get("category") and state.get("classification"):
                updates["classification"] = {**state["classification"], "category": decision["category"]}
        return updates

    return review
