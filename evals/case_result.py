"""From how the graph ended on a case (`agent.runner.CaseOutcome`) to the stored `CaseResult`."""

from __future__ import annotations

import json
from typing import Any

from agent.runner import CaseOutcome
from billing.settings import Settings
from evals.capture import CaseCapture
from evals.case_set import EvalCase
from evals.drafts import check_draft_of
from evals.results import CaseResult, Predicted

#: Exception fields shown with a case in the report (the rest is in the bundle).
SHOWN_FIELDS = ("rule", "kind", "channel", "period", "product_code", "dimension_key", "currency",
                "expected_amount", "observed_amount", "delta_amount", "description")
DETAILS_CHARS = 600


def evidence_summary(values: dict[str, Any], capture: CaseCapture) -> dict[str, Any]:
    """What a reader of the report needs to judge a case: the exception as reconciliation stated
    it, the amount at stake, the tools that answered, the outside text and whether it was flagged,
    the SOP passages retrieved."""
    exception = values.get("exception") or {}
    details = json.dumps(exception.get("details") or {}, ensure_ascii=False, default=str, sort_keys=True)
    return {
        **{name: exception.get(name) for name in SHOWN_FIELDS},
        "details": details if len(details) <= DETAILS_CHARS else details[:DETAILS_CHARS] + " …",
        "stake": values.get("stake"),
        "tools": sorted(capture.tool_results.keys()),
        "outside_text": [{"message_id": t.get("message_id"), "sender_role": t.get("sender_role"),
                          "subject": t.get("subject", ""), "suspicious": bool(t.get("suspicious"))}
                         for t in values.get("outside_text") or []],
        "sop_passages": [p.chunk_id for p in capture.passages],
    }


def case_result(case: EvalCase, outcome: CaseOutcome, capture: CaseCapture, settings: Settings, *,
                load_ms: float, default_model: str) -> CaseResult:
    """Score-ready record of one case: the labels beside the agent's decision, draft check and cost."""
    values = outcome.values
    classification = values.get("classification") or {}
    predicted = Predicted(
        status=outcome.status, route=outcome.route, category=outcome.category, action=outcome.action,
        escalate_to=outcome.escalate_to, confidence=outcome.confidence, route_reasons=outcome.reasons,
        problems=outcome.problems, error=outcome.error, rationale=classification.get("rationale", ""),
        evidence_ids=list(classification.get("evidence_ids", [])),
        sop_chunk_ids=list(classification.get("sop_chunk_ids", [])),
    )
    return CaseResult(
        case_id=case.case_id, source=case.source, expected=case.expected, predicted=predicted,
        draft=check_draft_of(values, capture, settings) if values else None,
        llm_calls=outcome.llm_calls, input_tokens=outcome.input_tokens, output_tokens=outcome.output_tokens,
        model=values.get("model") or default_model, wall_ms=outcome.wall_ms, load_ms=load_ms,
        evidence=evidence_summary(values, capture) if values else {},
    )
