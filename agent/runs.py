"""The `triage_runs` row of a graph thread: created on first write, updated as the case moves."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.deps import TriageDeps
from agent.state import TriageState
from billing.models import RunStatus, TriageRun, utcnow


def save_run(session: Session, state: TriageState, deps: TriageDeps, *, status: RunStatus,
             outcome: str | None = None) -> TriageRun:
    """Upsert the run of `state["thread_id"]` with what the state knows now."""
    run = session.scalars(select(TriageRun).where(TriageRun.thread_id == state["thread_id"])).one_or_none()
    if run is None:
        started = state.get("started_at")
        run = TriageRun(thread_id=state["thread_id"], exception_id=state["exception_id"],
                        started_at=datetime.fromisoformat(started) if started else utcnow())
        session.add(run)
    classification = state.get("classification") or {}
    stake = state.get("stake") or {}
    run.batch_id = state.get("batch_id")
    run.status = status
    run.backend, run.model, run.prompt_version = deps.backend.name, state.get("model") or deps.backend.model, deps.backend.prompt_version
    run.evidence_hash = state.get("evidence_hash", "")
    run.category, run.action = classification.get("category"), classification.get("action")
    run.escalate_to, run.confidence = classification.get("escalate_to"), classification.get("confidence")
    run.route, run.route_reasons = state.get("route"), list(state.get("route_reasons", []))
    run.amount_usd = None if stake.get("usd") is None else Decimal(str(stake["usd"]))
    run.verify_problems = list(state.get("problems", []))
    run.llm_calls, run.input_tokens = state.get("llm_calls", 0), state.get("input_tokens", 0)
    run.output_tokens, run.latency_ms = state.get("output_tokens", 0), float(state.get("latency_ms", 0.0))
    if outcome is not None:
        run.outcome, run.finished_at = outcome, utcnow()
    return run
