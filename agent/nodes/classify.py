"""`classify`: the backend decides category, action, escalation and confidence.

A backend failure (after its own retries and repair) is recorded, not raised: the case goes
to a person with the reason. After a reviewer's reclassification the category is theirs and
the backend is not asked again; the usual resolution of that category fills the rest."""

from __future__ import annotations

from typing import Any

from agent.audit import Trail
from agent.deps import TriageDeps
from agent.nodes.costs import add_usage, call_record
from agent.schemas import Category, Classification
from agent.state import TriageState, case_input
from agent.taxonomy import usual_resolution


def reviewer_classification(state: TriageState) -> Classification:
    """The classification a reviewer's category implies (confidence 1: a person decided it)."""
    category = Category(state["forced_category"] or "other")
    exc = state.get("exception", {})
    usual = usual_resolution(category, exc.get("channel"))
    refs = exc.get("record_refs") or {}
    evidence_ids = [str(i) for ids in refs.values() for i in ids][:8]
    chunks = [p["chunk_id"] for p in state.get("sop_passages", []) if category.value in p.get("categories", [])]
    decision = state.get("decision") or {}
    return Classification(
        category=category, confidence=1.0,
        rationale=f"Reclassified by {decision.get('reviewer', 'a reviewer')}: {decision.get('reason') or 'no reason given'}",
        evidence_ids=evidence_ids, sop_chunk_ids=chunks[:3], action=usual.action,
        escalate_to=usual.escalate_to, owner=usual.owner,
    )


def make_classify(deps: TriageDeps) -> Any:
    """The node, bound to its dependencies."""

    def classify(state: TriageState) -> dict[str, Any]:
        trail = Trail(state)
        if state.get("forced_category"):
            value = reviewer_classification(state)
            trail.add("classification", str((state.get("decision") or {}).get("reviewer", "reviewer")),
                      {"source": "reviewer", "output": value.model_dump(mode="json")})
            return {"classification": value.model_dump(mode="json"), **trail.update()}
        try:
            result = deps.backend.classify(case_input(state))
        except Exception as exc:  # noqa: BLE001 - any backend failure routes the case to a person
            error = f"classify: {type(exc).__name__}: {exc}"
            trail.add("error", deps.actor, {"step": "classify", "error": error})
            return {"classification": None, "backend_errors": [*state.get("backend_errors", []), error],
                    **trail.update()}
        trail.add("classification", deps.actor, call_record(deps, result))
        return {"classification": result.value.model_dump(mode="json"), **add_usage(state, result),
                **trail.update()}

    return classify
