"""`draft`: the internal resolution or the partner/customer email, written from the evidence."""

from __future__ import annotations

from typing import Any

from agent.audit import Trail
from agent.deps import TriageDeps
from agent.nodes.costs import add_usage, call_record
from agent.state import TriageState, case_input, classification_of


def make_draft(deps: TriageDeps) -> Any:
    """The node, bound to its dependencies."""

    def draft(state: TriageState) -> dict[str, Any]:
        classification = classification_of(state)
        if classification is None:  # the backend failed to classify: nothing to draft
            return {"draft": None}
        trail = Trail(state)
        try:
            result = deps.backend.draft(case_input(state), classification)
        except Exception as exc:  # noqa: BLE001 - any backend failure routes the case to a person
            error = f"draft: {type(exc).__name__}: {exc}"
            trail.add("error", deps.actor, {"step": "draft", "error": error})
            return {"draft": None, "backend_errors": [*state.get("backend_errors", []), error],
                    **trail.update()}
        trail.add("draft", deps.actor, call_record(deps, result))
        return {"draft": result.value.model_dump(mode="json"), "repaired": False, **add_usage(state, result),
                **trail.update()}

    return draft
