"""Contract tests of the `openai` backend and the chat, replayed from vcrpy cassettes.

Recorded against a real model: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) served by llama.cpp's
OpenAI-compatible server (`/work/shared/tools/local-llm`), in its `json_object`+`schema`
dialect; `tests/cassettes/llm_recorded_with.json` names the server. Two answers such a
server never gives come from the stub of `llm_stub_server.py`, and their names say so:
the 429 (the stub's; the answer after the retry is the real model's), the refusal, and the
malformed first reply (a grammar-constrained server does not produce one; the repair is
answered by the real model).

Every test here is marked `block_network`: on replay a socket connect raises, so passing
proves the replay is offline. Re-record with the command in docs/llm-backends.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from llm_fakes import FakeTools

from agent.chat import ChatMessage, ChatOptions, chat_turn
from agent.llm.base import CaseInput
from agent.llm.openai_backend import OpenAIBackend, OutputBudget, strings_in
from agent.llm.openai_calls import OutputError, RefusalError
from agent.schemas import Action, Category, Classification, Draft, EscalateTo
from billing.settings import EmailSettings, LLMSettings


@dataclass
class Scope:
    account_id: int = 21
    period: str = "2026-09"


def backend(settings: LLMSettings) -> OpenAIBackend:
    return OpenAIBackend(settings, email=EmailSettings())


def grounded(ids: list[str], case: CaseInput) -> bool:
    known = strings_in(case.exception) | strings_in(case.evidence) | {p.chunk_id for p in case.sop_passages}
    return set(ids) <= known


def assert_fully_played(vcr: Any, recording: bool) -> None:
    if not recording:
        assert vcr.all_played, "a recorded interaction was not requested: the prompts changed since recording"


@pytest.mark.vcr
@pytest.mark.block_network
def test_structured_classification(llm_settings: LLMSettings, cases: dict[str, CaseInput], vcr: Any,
                                   recording: bool) -> None:
    """One call, a validated `Classification`, only ids found in the case, usage recorded."""
    case = cases["dropped_metering"]
    result = backend(llm_settings).classify(case)
    assert isinstance(result.value, Classification)
    assert grounded(result.value.evidence_ids + result.value.sop_chunk_ids, case)
    assert result.usage.llm_calls == 1
    assert 0 < result.usage.input_tokens <= 2000 and result.usage.output_tokens > 0
    request = result.raw[0]["request"]
    assert request["response_format"]["type"] == llm_settings.structured_output
    assert request["model"] == llm_settings.model
    assert_fully_played(vcr, recording)


@pytest.mark.vcr
@pytest.mark.block_network
def test_internal_resolution_draft(llm_settings: LLMSettings, cases: dict[str, CaseInput], vcr: Any,
                                   recording: bool) -> None:
    """The draft is addressed from configuration and validated as a `Draft`."""
    case = cases["dropped_metering"]
    decided = Classification(
        category=Category.DROPPED_METERING, confidence=0.8,
        rationale="Seven hours on 2026-10-18 are missing from the partner feed; MR-88412 stayed Unprocessed.",
        evidence_ids=["MR-88412", "MR-88413"], sop_chunk_ids=["dropped_metering#decision-steps"],
        action=Action.RESEND_METERING, escalate_to=EscalateTo.INTERNAL, owner="billing-ops",
    )
    result = backend(llm_settings).draft(case, decided)
    assert isinstance(result.value, Draft)
    assert result.usage.llm_calls == 1 and result.usage.input_tokens <= 1500
    assert "kind: internal_resolution\nto: billing-ops@example.com" in result.raw[0]["request"]["messages"][1]["content"]
    assert_fully_played(vcr, recording)


@pytest.mark.vcr
@pytest.mark.block_network
def test_draft_cut_off_twice_by_local_model_is_a_backend_error(
    llm_settings: LLMSettings, cases: dict[str, CaseInput], vcr: Any, recording: bool,
) -> None:
    """A real reply cut off at max_tokens (set tiny here) is invalid JSON: one repair, then a BackendError."""
    case = cases["short_payment"]
    decided = Classification(
        category=Category.SHORT_PAYMENT, confidence=0.7, rationale="PAY-77120 paid 7900.00 of 8400.00.",
        evidence_ids=["PAY-77120"], sop_chunk_ids=[], action=Action.CHASE_PAYMENT,
        escalate_to=EscalateTo.CUSTOMER, owner="collections",
    )
    tiny = OpenAIBackend(llm_settings, email=EmailSettings(), budget=OutputBudget(classify=320, draft=24))
    with pytest.raises(OutputError) as caught:
        tiny.draft(case, decided)
    first, repair = caught.value.raw
    assert first["response"]["choices"][0]["finish_reason"] == "length"
    assert any("cut off at 24 tokens" in problem for problem in first["invalid"])
    assert "cut off at 24 tokens" in repair["request"]["messages"][-1]["content"]
    assert caught.value.usage.llm_calls == 2
    assert_fully_played(vcr, recording)


@pytest.mark.vcr
@pytest.mark.block_network
def test_chat_turn_with_named_tool_choice(llm_settings: LLMSettings, vcr: Any, recording: bool) -> None:
    """A small model calls a tool only when tool_choice names it (local-llm header): the `named` strategy."""
    tools = FakeTools()
    question = [ChatMessage(role="user", content="How much was paid against invoice INV-2026-0912?")]
    turn = chat_turn(question, ctx=Scope(), settings=llm_settings, registry=tools,
                     options=ChatOptions(tool_choice="named", max_rounds=1))
    assert [name for name, _ in tools.calls] == ["get_payments"]
    assert tools.calls[0][1] == {"invoice_number": "INV-2026-0912"}
    assert turn.tool_calls[0].error is None
    assert turn.answer.strip()
    assert set(turn.citations) <= {"short_payment#decision-steps", "credit_misapplied#symptoms"}
    named = next(r for r in turn.raw if r["purpose"] == "chat_args")["request"]
    assert named["tool_choice"] == {"type": "function", "function": {"name": "get_payments"}}
    assert_fully_played(vcr, recording)


@pytest.mark.vcr
@pytest.mark.block_network
def test_malformed_reply_from_stub_is_repaired_by_local_model(
    llm_settings: LLMSettings, stub_server: str, cases: dict[str, CaseInput], vcr: Any, recording: bool,
) -> None:
    """An invalid reply earns ONE repair that shows it and its validation errors; the real model fixes it."""
    settings = llm_settings.model_copy(update={"base_url": f"{stub_server}/malformed-once/v1"})
    case = cases["forgiven_charge"]
    result = backend(settings).classify(case)
    assert isinstance(result.value, Classification)
    assert result.usage.llm_calls == 2
    first, repair = result.raw
    assert first["response"]["system_fingerprint"] == "stub-malformed" and first["invalid"]
    shown = repair["request"]["messages"]
    assert shown[-2]["role"] == "assistant" and shown[-2]["content"].startswith("Sure! Here is")
    assert "Your reply was not valid" in shown[-1]["content"]
    assert "category: Input should be" in shown[-1]["content"] and "rationale: Field required" in shown[-1]["content"]
    assert "invalid" not in repair
    assert grounded(result.value.evidence_ids + result.value.sop_chunk_ids, case)
    assert_fully_played(vcr, recording)


@pytest.mark.vcr
@pytest.mark.block_network
def test_rate_limited_by_stub_then_answered_by_local_model(
    llm_settings: LLMSettings, stub_server: str, cases: dict[str, CaseInput], vcr: Any, recording: bool,
) -> None:
    """The 429 is the stub's (a local server never rate-limits); the SDK retries; the real model answers."""
    settings = llm_settings.model_copy(update={"base_url": f"{stub_server}/rate-limit-once/v1"})
    result = backend(settings).classify(cases["timing_difference"])
    assert isinstance(result.value, Classification)
    assert result.raw[0]["retries_taken"] == 1
    assert result.usage.llm_calls == 1  # one logical call; the retry is the SDK's
    assert vcr.responses[0]["status"]["code"] == 429 and vcr.responses[1]["status"]["code"] == 200
    assert_fully_played(vcr, recording)


@pytest.mark.vcr
@pytest.mark.block_network
def test_refusal_from_stub_is_a_backend_error(
    llm_settings: LLMSettings, stub_server: str, cases: dict[str, CaseInput], vcr: Any, recording: bool,
) -> None:
    """OpenAI's refusal shape (`message.refusal`), written by the stub: no repair, a BackendError with the reason."""
    settings = llm_settings.model_copy(update={"base_url": f"{stub_server}/refuse/v1"})
    with pytest.raises(RefusalError) as caught:
        backend(settings).classify(cases["timing_difference"])
    assert caught.value.reason == "I'm sorry, but I can't help with that request."
    assert len(caught.value.raw) == 1
    assert_fully_played(vcr, recording)


@pytest.mark.block_network
def test_the_network_block_is_real(llm_settings: LLMSettings, cases: dict[str, CaseInput]) -> None:
    """Without a cassette the same call cannot reach the server: the replays above are offline."""
    settings = llm_settings.model_copy(update={"max_retries": 0})
    with pytest.raises(RuntimeError, match="Network is disabled"):
        backend(settings).classify(cases["timing_difference"])
