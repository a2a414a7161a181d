"""What a backend call cost, added to the case's running totals and described for the audit."""

from __future__ import annotations

from typing import Any

from agent.deps import TriageDeps
from agent.llm.base import BackendResult
from agent.state import TriageState


def add_usage(state: TriageState, result: BackendResult[Any]) -> dict[str, Any]:
    """State updates adding one call's tokens, calls and latency to the totals."""
    return {
        "llm_calls": state.get("llm_calls", 0) + result.usage.llm_calls,
        "input_tokens": state.get("input_tokens", 0) + result.usage.input_tokens,
        "output_tokens": state.get("output_tokens", 0) + result.usage.output_tokens,
        "latency_ms": state.get("latency_ms", 0.0) + result.latency_ms,
        "model": result.model or state.get("model", ""),
    }


def call_record(deps: TriageDeps, result: BackendResult[Any]) -> dict[str, Any]:
    """The audit payload of a backend call: who answered, at what cost, with what output."""
    return {
        "backend": deps.backend.name,
        "model": result.model or deps.backend.model,
        "prompt_version": deps.backend.prompt_version,
        "llm_calls": result.usage.llm_calls,
        "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens,
        "cached_input_tokens": result.usage.cached_input_tokens,
        "latency_ms": round(result.latency_ms, 3),
        "output": result.value.model_dump(mode="json"),
        "raw": result.raw,
    }
