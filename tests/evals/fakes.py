"""A spy backend for the runner tests: decides by the taxonomy's first candidate, records what it saw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.llm.base import BackendResult, CaseInput, SopPassage, Usage
from agent.schemas import Classification, Draft, EscalateTo
from agent.taxonomy import candidate_categories, usual_resolution
from billing.settings import EmailSettings


@dataclass
class SpyBackend:
    """The first candidate category of the exception's rule, with its usual resolution; a draft
    that states `amount_in_draft` (e.g. an invented figure). Every `CaseInput` is kept."""

    confidence: float = 0.9
    amount_in_draft: str | None = None
    tokens: tuple[int, int] = (0, 0)  # (input, output) per call, to exercise the cost figures
    name: str = "spy"
    model: str = "spy-1"
    prompt_version: str = "spy-prompts-1"
    seen: list[CaseInput] = field(default_factory=list)
    repairs: int = 0

    def _usage(self) -> Usage:
        return Usage(llm_calls=1 if any(self.tokens) else 0, input_tokens=self.tokens[0], output_tokens=self.tokens[1])

    def classify(self, case: CaseInput) -> BackendResult[Classification]:
        self.seen.append(case)
        category = candidate_categories(case.exception.get("rule"), case.exception.get("kind"))[0]
        usual = usual_resolution(category, case.exception.get("channel"))
        decision = Classification(category=category, confidence=self.confidence, rationale="The rule says so.",
                                  evidence_ids=[], sop_chunk_ids=[], action=usual.action,
                                  escalate_to=usual.escalate_to, owner=usual.owner)
        return BackendResult(decision, self._usage(), 1.0, self.model)

    def draft(self, case: CaseInput, classification: Classification) -> BackendResult[Draft]:
        contacts = EmailSettings()
        outward = classification.escalate_to in (EscalateTo.PARTNER, EscalateTo.CUSTOMER)
        body = "Please review the case." + (f" We count USD {self.amount_in_draft}." if self.amount_in_draft else "")
        draft = Draft(kind="email" if outward else "internal_resolution",
                      to=contacts.customer_contact_role if outward else contacts.internal_owner,
                      subject="About this case", body=body)
        return BackendResult(draft, self._usage(), 1.0, self.model)

    def repair_draft(self, case: CaseInput, classification: Classification, draft: Draft,
                     problems: list[str]) -> BackendResult[Draft]:
        self.repairs += 1
        return BackendResult(draft, self._usage(), 1.0, self.model)  # a repair that fixes nothing


def no_passages(categories: Sequence[str], channel: str | None) -> list[SopPassage]:
    """A retriever with an empty SOP corpus (the runner tests are about the runner)."""
    return []
