"""`route`: the routing policy applied to what the earlier nodes found (see `agent.routing`)."""

from __future__ import annotations

from typing import Any

from agent.audit import Trail
from agent.deps import TriageDeps
from agent.guards import suspicious_reasons
from agent.llm.base import OutsideText
from agent.compound import compound_reasons, problem_amount
from agent.routing import decide_route
from agent.state import StakeInfo, TriageState, classification_of


def make_route(deps: TriageDeps) -> Any:
    """The node, bound to its dependencies."""

    def route(state: TriageState) -> dict[str, Any]:
        outside = [OutsideText.model_validate(t) for t in state.get("outside_text", [])]
        stake: StakeInfo = state.get("stake") or StakeInfo(amount=None, currency=None, usd=None, rate_date=None,
                                                            problem="no amount was gathered")
        decision = decide_route(
            policy=deps.settings.routing,
            classification=classification_of(state),
            stake=stake,
            problems=state.get("problems", []),
            suspicious=suspicious_reasons(outside),
            backend_errors=state.get("backend_errors", []),
            reclassified_by=state.get("reclassified_by"),
            compound=compound_reasons(state.get("exception") or {}, state.get("evidence") or {},
                                      (state.get("classification") or {}).get("category")),
            problem=problem_amount(state.get("exception") or {}, state.get("evidence") or {}),
        )
        trail = Trail(state)
        trail.add("route", deps.actor, {"route": decision.route, "reasons": decision.reasons,
                                        "send_allowed": decision.send_allowed, "stake": dict(stake)})
        return {"route": decision.route, "route_reasons": decision.reasons, "send_allowed": decision.send_allowed,
                **trail.update()}

    return route
