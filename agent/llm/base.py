"""The interface every backend implements, and what it is given.

A backend sees a `CaseInput` — the exception, the evidence gathered by the tools (plain
JSON), the SOP passages retrieved, and any outside text already marked as data — and
returns structured outputs with their usage. It never sees expected labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, Field

from agent.schemas import Classification, Draft

T = TypeVar("T", bound=BaseModel)


class SopPassage(BaseModel):
    """A retrieved SOP chunk, ready to cite."""

    chunk_id: str
    sop_id: str
    version: str
    heading: str
    text: str
    score: float = 0.0
    categories: list[str] = Field(default_factory=list)  # the SOP's front-matter categories


class OutsideText(BaseModel):
    """Text that came from outside (partner/customer email, dispute note). Data, never instructions."""

    message_id: str
    sender_role: str
    subject: str = ""
    body: str
    suspicious: bool = False  # set by the guard when the text tries to instruct the model
    reasons: list[str] = Field(default_factory=list)


class CaseInput(BaseModel):
    """Everything a backend may use to decide one case."""

    case_id: str
    exception: dict[str, Any]  # the exception's fields (rule, kind, amounts as strings, details, refs)
    evidence: dict[str, Any]  # tool name -> tool result (JSON)
    sop_passages: list[SopPassage] = Field(default_factory=list)
    outside_text: list[OutsideText] = Field(default_factory=list)
    # The amount at stake in USD, converted at the period-end rate (`agent.stake`); None when it
    # could not be (no amount, no rate). Thresholds in the runbooks are in USD.
    stake_usd: Decimal | None = None


@dataclass
class Usage:
    """What a backend call cost."""

    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    def add(self, other: Usage) -> Usage:
        return Usage(
            self.llm_calls + other.llm_calls,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
        )


@dataclass
class BackendResult(Generic[T]):
    """A structured output with its cost and provenance."""

    value: T
    usage: Usage = field(default_factory=Usage)
    latency_ms: float = 0.0
    model: str = ""
    raw: list[dict[str, Any]] = field(default_factory=list)  # request/response records for the audit trail


class BackendError(RuntimeError):
    """The backend could not produce a valid output after its retries and one repair."""


class Backend(Protocol):
    """A triage backend. Implementations: `agent.llm.offline`, `agent.llm.openai_backend`."""

    name: str
    model: str
    prompt_version: str

    def classify(self, case: CaseInput) -> BackendResult[Classification]:
        """Decide the category, action, escalation target and confidence of one case."""
        ...

    def draft(self, case: CaseInput, classification: Classification) -> BackendResult[Draft]:
        """Write the internal resolution or the partner/customer email, from the evidence only."""
        ...

    def repair_draft(
        self, case: CaseInput, classification: Classification, draft: Draft, problems: list[str]
    ) -> BackendResult[Draft]:
        """One attempt to fix a draft that failed verification (the problems say what)."""
        ...
