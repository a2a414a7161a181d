"""The `triage_runs` row of a graph thread: its column values, and its creation at review."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from agent.deps import TriageDeps
from agent.state import TriageState
from agent.upserts import insert_missing
from billing.models import RunStatus, TriageRun, utcnow


def run_values(state: TriageState, deps: TriageDeps, *, status: RunStatus, outcome: str | None = None) -> dict[str, Any]:
    """The run's column values from what the state knows now."""
    classification = state.get("classification") or {}
    stake = state.get("stake") or {}
    started = state.get("started_at")
    values: dict[str, Any] = {
        "thread_id": state["thread_id"], "exception_id": state["exception_id"],
        "started_at": datetime.fromisoformat(started) if started else utcnow(),
        "batch_id": state.get("batch_id"), "status": status.value,
        "backend": deps.backend.name, "model": state.get("model") or deps.backend.model,
        "prompt_version": deps.backend.prompt_version, "evidence_hash": state.get("evidence_hash", ""),
        "category": classification.get("category"), "action": classification.get("action"),
        "escalate_to": classification.get("escalate_to"), "confidence": classification.get("confidence"),
        "route": state.get("route"), "route_reasons": list(state.get("route_reasons", [])),
        "amount_usd": None if stake.get("usd") is None else Decimal(str(stake["usd"])),
        "verify_problems": list(state.get("problems", [])),
        "llm_calls": state.get("llm_calls", 0), "input_tokens": state.get("input_tokens", 0),
        "output_tokens": state.get("output_tokens", 0), "latency_ms": float(state.get("latency_ms", 0.0)),
        "error": None, "outcome": outcome, "finished_at": utcnow() if outcome is not None else None,
    }
    return values


def save_run(session: Session, state: TriageState, deps: TriageDeps, *, status: RunStatus) -> None:
    """Create the run of `state["thread_id"]` if it is new (used before the review interrupt;
    a resumed node finds it there and leaves it: `finalize` brings it up to date)."""
    insert_missing(session, TriageRun.__table__, [run_values(state, deps, status=status)], keys=("thread_id",))
