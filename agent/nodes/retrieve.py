"""`retrieve`: the SOP passages for the exception's candidate categories and its channel.

Candidates come from the difference the rule stated (`agent.taxonomy`); a reviewer's
reclassification puts that category first. Passages are cached per (category, channel)."""

from __future__ import annotations

from typing import Any

from agent.audit import Trail
from agent.deps import TriageDeps
from agent.state import TriageState
from agent.taxonomy import candidate_categories


def candidates_for(state: TriageState) -> list[str]:
    """Candidate categories, most likely first (a reviewer's category before all others)."""
    exc = state.get("exception", {})
    found = [c.value for c in candidate_categories(exc.get("rule"), exc.get("kind"))]
    forced = state.get("forced_category")
    return list(dict.fromkeys([forced, *found])) if forced else found


def make_retrieve(deps: TriageDeps) -> Any:
    """The node, bound to its dependencies."""

    def retrieve(state: TriageState) -> dict[str, Any]:
        candidates = candidates_for(state)
        channel = state.get("exception", {}).get("channel")
        passages = deps.retriever(candidates, channel)
        trail = Trail(state)
        trail.add("sop_passages", deps.actor, {
            "candidates": candidates, "channel": channel,
            "passages": [{"chunk_id": p.chunk_id, "sop_id": p.sop_id, "version": p.version,
                          "heading": p.heading} for p in passages],
        })
        # A new round (after a reclassification) starts with a clean slate of failures.
        return {"candidates": candidates, "sop_passages": [p.model_dump() for p in passages],
                "backend_errors": [], "problems": [], "repaired": False, **trail.update()}

    return retrieve
