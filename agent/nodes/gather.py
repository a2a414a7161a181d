"""`gather`: one evidence bundle per case — the exception, the tool results, the outside text
(checked by the guard), the amount at stake in USD — and the first audit entries."""

from __future__ import annotations

from typing import Any

from agent.audit import TOOL_RESULTS, Trail
from agent.deps import TriageDeps
from agent.evidence import TEXTS, evidence_hash, evidence_text, gather_case
from agent.guards import flagged_remittance_notes, guard_outside_text
from agent.sessions import sessions
from agent.stake import stake_of
from agent.state import TriageState
from billing.models import utcnow


def make_gather(deps: TriageDeps) -> Any:
    """The node, bound to its dependencies."""

    def gather(state: TriageState) -> dict[str, Any]:
        started = utcnow().isoformat()
        case = gather_case(deps.engine, state["exception_id"], deps.run_tools)
        outside = guard_outside_text(case.outside_text) + flagged_remittance_notes(case.evidence)
        case.outside_text = outside
        text = evidence_text(case)
        digest = evidence_hash(case, text)
        TEXTS.put(digest, text)  # verify searches this text; made once per case
        stake = stake_of(sessions(deps.engine), case.exception)
        trail = Trail(state)
        trail.add("inputs", deps.actor, {
            "case_id": str(state["exception_id"]), "evidence_hash": digest, "batch_id": state.get("batch_id"),
            "rule": case.exception.get("rule"), "kind": case.exception.get("kind"),
            "stake": dict(stake), "outside_text": [
                {"message_id": t.message_id, "sender_role": t.sender_role, "suspicious": t.suspicious,
                 "reasons": t.reasons} for t in outside
            ],
        })
        # The full tool results are added when the entry is written (they are in the state already).
        trail.add(TOOL_RESULTS, deps.actor, {"tools": list(case.evidence), "evidence_hash": digest})
        return {
            "exception": case.exception,
            "evidence": case.evidence,
            "evidence_hash": digest,
            "outside_text": [t.model_dump() for t in outside],
            "stake": stake,
            "started_at": started,
            "review_round": state.get("review_round", 1),
            "backend_errors": [],
            "problems": [],
            "repaired": False,
            "llm_calls": 0, "input_tokens": 0, "output_tokens": 0, "latency_ms": 0.0,
            "model": deps.backend.model,
            **trail.update(),
        }

    return gather
