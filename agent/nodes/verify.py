"""`verify`: every amount, id and date of the draft found in the evidence; the action suits the
category. A failing draft gets one repair from the backend; what still fails goes to routing."""

from __future__ import annotations

from typing import Any

from agent.audit import Trail
from agent.deps import TriageDeps
from agent.evidence import TEXTS
from agent.nodes.costs import add_usage, call_record
from agent.schemas import Draft
from agent.state import TriageState, case_input, classification_of, draft_of
from agent.verify import collect_facts, verify


def make_verify(deps: TriageDeps) -> Any:
    """The node, bound to its dependencies."""

    def verify_node(state: TriageState) -> dict[str, Any]:
        classification, draft = classification_of(state), draft_of(state)
        if classification is None or draft is None:  # a backend failure: routing says so
            return {"problems": []}
        case = case_input(state)
        facts = collect_facts(case, deps.settings, TEXTS.get(state.get("evidence_hash", "")))
        report = verify(case, classification, draft, deps.settings, facts)
        trail = Trail(state)
        updates: dict[str, Any] = {}
        if report.draft_problems:
            first_problems = report.problems
            try:
                result = deps.backend.repair_draft(case, classification, draft, report.draft_problems)
            except Exception as exc:  # noqa: BLE001 - a failed repair leaves the problems for a person
                trail.add("repair", deps.actor, {"problems": first_problems, "error": f"{type(exc).__name__}: {exc}"})
            else:
                repaired: Draft = result.value
                trail.add("repair", deps.actor, {"problems": first_problems, **call_record(deps, result)})
                report = verify(case, classification, repaired, deps.settings, facts)
                updates = {"draft": repaired.model_dump(mode="json"), **add_usage(state, result)}
            updates["repaired"] = True
        trail.add("verify", deps.actor, {"problems": report.problems, "repaired": bool(updates.get("repaired"))})
        return {**updates, "problems": report.problems, **trail.update()}

    return verify_node
