"""The `openai` backend: any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp).

Two calls per routine case: `classify` then `draft` (plus `repair_draft` when the verify step
rejects a draft). The API (Chat Completions or Responses) and the structured-output dialect
come from `LLMSettings`; see `agent.llm.openai_calls` for how a call is validated and
repaired, and docs/llm-backends.md for configuring each server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openai import OpenAI

from agent.llm.base import BackendResult, CaseInput
from agent.llm.openai_calls import StructuredCaller
from agent.prompts import PROMPT_VERSION, classify_messages, draft_messages, repair_draft_messages
from agent.schemas import Classification, Draft, DraftText, EscalateTo
from billing.settings import EmailSettings, LLMSettings, get_settings


@dataclass(frozen=True)
class OutputBudget:
    """Most tokens each call may write: enough for the JSON, small enough to stay fast and cheap."""

    classify: int = 320
    draft: int = 640


def strings_in(value: Any) -> set[str]:
    """Every string and number value in a JSON value, as text: what an id may be copied from.

    Keys are left out: they name fields and tools (`get_usage_summary`), which a model likes
    to cite as if they were records.
    """
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif item is not None and not isinstance(item, bool):
            found.add(str(item))
    return found


def drop_ungrounded_ids(classification: Classification, case: CaseInput) -> tuple[Classification, list[str]]:
    """Keep only cited ids that exist in the case; return the ids dropped.

    A small model often cites a tool name or an invented id. A repair call for that would
    double the cost of a routine case, and the category may well be right, so the unknown
    ids are dropped and listed in the raw record for the audit trail instead.
    """
    known = strings_in(case.exception) | strings_in(case.evidence)
    chunks = {p.chunk_id for p in case.sop_passages}
    evidence_ids = [i for i in classification.evidence_ids if i in known]
    sop_chunk_ids = [c for c in classification.sop_chunk_ids if c in chunks]
    dropped = [i for i in classification.evidence_ids if i not in known]
    dropped += [c for c in classification.sop_chunk_ids if c not in chunks]
    if not dropped:
        return classification, []
    return classification.model_copy(update={"evidence_ids": evidence_ids, "sop_chunk_ids": sop_chunk_ids}), dropped


def addressing(case: CaseInput, classification: Classification, email: EmailSettings) -> tuple[str, str]:
    """(kind, to) of the draft, from configuration: partners by channel, customers by role, else internal."""
    channel = str(case.exception.get("channel") or "")
    if classification.escalate_to == EscalateTo.PARTNER and channel in email.partner_contacts:
        return "email", email.partner_contacts[channel]
    if classification.escalate_to == EscalateTo.CUSTOMER:
        return "email", email.customer_contact_role
    return "internal_resolution", email.internal_owner


class OpenAIBackend:
    """The Backend protocol over the OpenAI SDK. `client` is injectable for tests."""

    name = "openai"
    prompt_version = PROMPT_VERSION

    def __init__(
        self,
        settings: LLMSettings,
        *,
        email: EmailSettings | None = None,
        client: OpenAI | None = None,
        budget: OutputBudget = OutputBudget(),
        max_tokens_param: str = "max_tokens",
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self.email = email or get_settings().email
        self.budget = budget
        self._caller = StructuredCaller(settings, client, max_tokens_param=max_tokens_param)

    @property
    def client(self) -> OpenAI:
        """The SDK client in use (its `base_url` says which server answers)."""
        return self._caller.client

    def classify(self, case: CaseInput) -> BackendResult[Classification]:
        """Category, action, escalation and confidence; cited ids not found in the case are dropped."""
        result = self._caller.call("classify", classify_messages(case), Classification,
                                   max_tokens=self.budget.classify)
        result.value, dropped = drop_ungrounded_ids(result.value, case)
        if dropped:
            result.raw[-1]["dropped_ungrounded_ids"] = dropped
        return result

    def draft(self, case: CaseInput, classification: Classification) -> BackendResult[Draft]:
        """The internal resolution or the email; the model writes the text, configuration addresses it."""
        kind, to = addressing(case, classification, self.email)
        messages = draft_messages(case, classification, kind=kind, to=to)
        return addressed(self._caller.call("draft", messages, DraftText, max_tokens=self.budget.draft), kind, to)

    def repair_draft(
        self, case: CaseInput, classification: Classification, draft: Draft, problems: list[str]
    ) -> BackendResult[Draft]:
        """One rewrite of a draft the verify step rejected, shown its problems."""
        kind, to = addressing(case, classification, self.email)
        messages = repair_draft_messages(case, classification, draft.text, problems, kind=kind, to=to)
        return addressed(self._caller.call("repair_draft", messages, DraftText, max_tokens=self.budget.draft),
                         kind, to)


def addressed(result: BackendResult[DraftText], kind: str, to: str) -> BackendResult[Draft]:
    """The written text as a `Draft` with the configured kind and recipient.

    A small model asked to copy `to` mangles it often enough to cost a repair call, and a
    recipient is never a model's choice anyway: it is set here, after validation.
    """
    draft = Draft(kind=kind, to=to, **result.value.model_dump())  # type: ignore[arg-type]
    return BackendResult(value=draft, usage=result.usage, latency_ms=result.latency_ms, model=result.model, raw=result.raw)
