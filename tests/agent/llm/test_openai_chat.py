"""The chat turn: tool calls -> results -> an answer with SOP citations, in bounded rounds."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from llm_fakes import FakeTools, ScriptedServer, chat_completion, tool_call
from sqlalchemy import Engine

from agent.chat import ChatMessage, ChatOptions, chat_turn
from billing.settings import LLMSettings

QUESTION = [ChatMessage(role="user", content="Why was INV-2026-0912 short-paid, and what does the SOP say?")]


@dataclass
class Scope:
    """Stands in for `tools.ToolContext`: the scope comes from the application, not the model."""

    account_id: int = 21
    period: str = "2026-09"


def settings(**overrides: object) -> LLMSettings:
    return LLMSettings(model="fake-model", api_key="sk-test", base_url="http://fake.test/v1",
                       structured_output="json_object", **overrides)  # type: ignore[arg-type]


def answer(text: str, citations: list[str]) -> dict[str, object]:
    return chat_completion(json.dumps({"answer": text, "sop_citations": citations}))


def test_auto_strategy_runs_tools_then_answers_with_grounded_citations() -> None:
    server = ScriptedServer([
        (200, chat_completion(None, tool_calls=[tool_call("get_payments", {"invoice_number": "INV-2026-0912"}),
                                                tool_call("search_sops", {"query": "short payment"}, "call_2")])),
        (200, answer("PAY-77120 paid 7900.00 of 8400.00.", ["short_payment#decision-steps", "invented#x"])),
    ])
    tools = FakeTools()
    turn = chat_turn(QUESTION, ctx=Scope(), settings=settings(), registry=tools, client=server.client())
    assert [name for name, _ in tools.calls] == ["get_payments", "search_sops"]
    second = server.requests[1]["messages"]
    assert [m["role"] for m in second[-3:]] == ["assistant", "tool", "tool"]
    assert second[-2]["tool_call_id"] == "call_1" and "PAY-77120" in second[-2]["content"]
    assert server.requests[0]["tool_choice"] == "auto" and server.requests[0]["response_format"]["type"] == "json_object"
    assert turn.citations == ["short_payment#decision-steps"]
    assert turn.ungrounded_citations == ["invented#x"]
    assert turn.usage.llm_calls == 2 and turn.answer.startswith("PAY-77120")


def test_the_scope_is_stated_by_the_application() -> None:
    server = ScriptedServer([(200, answer("Nothing needed.", []))])
    chat_turn(QUESTION, ctx=Scope(), settings=settings(), registry=FakeTools(), client=server.client())
    assert server.requests[0]["messages"][1] == {"role": "system", "content": "Scope: {account_id: 21, period: 2026-09}"}


def test_rounds_are_bounded_then_the_model_must_answer() -> None:
    again = chat_completion(None, tool_calls=[tool_call("search_sops", {"query": "more"})])
    server = ScriptedServer([(200, again), (200, again), (200, answer("Enough.", []))])
    tools = FakeTools()
    turn = chat_turn(QUESTION, ctx=Scope(), settings=settings(), registry=tools, client=server.client(),
                     options=ChatOptions(max_rounds=2))
    assert len(tools.calls) == 2
    assert server.requests[-1]["tool_choice"] == "none"
    assert turn.answer == "Enough."


def test_required_strategy_forces_a_tool_on_the_first_round_only() -> None:
    server = ScriptedServer([
        (200, chat_completion(None, tool_calls=[tool_call("search_sops", {"query": "short"})])),
        (200, answer("See the SOP.", ["short_payment#decision-steps"])),
    ])
    chat_turn(QUESTION, ctx=Scope(), settings=settings(), registry=FakeTools(), client=server.client(),
              options=ChatOptions(tool_choice="required"))
    assert [r["tool_choice"] for r in server.requests] == ["required", "auto"]


def test_a_failing_tool_is_shown_to_the_model_not_raised() -> None:
    server = ScriptedServer([
        (200, chat_completion(None, tool_calls=[tool_call("get_payments", {"invoice_number": "INV-9"})])),
        (200, answer("No such invoice for this account.", [])),
    ])
    turn = chat_turn(QUESTION, ctx=Scope(), settings=settings(), registry=FakeTools(), client=server.client())
    assert turn.tool_calls[0].error == "LookupError: no invoice INV-9 for account 21"
    assert "error: LookupError" in server.requests[1]["messages"][-1]["content"]


def test_named_strategy_picks_then_names_the_tool_then_answers() -> None:
    """Small models return tool_calls only when tool_choice names the function (local-llm header)."""
    server = ScriptedServer([
        (200, chat_completion('{"next": "get_payments"}')),
        (200, chat_completion(None, tool_calls=[tool_call("get_payments", {"invoice_number": "INV-2026-0912"})])),
        (200, chat_completion('{"next": "answer"}')),
        (200, answer("7900.00 received against 8400.00.", [])),
    ])
    tools = FakeTools()
    turn = chat_turn(QUESTION, ctx=Scope(), settings=settings(), registry=tools, client=server.client(),
                     options=ChatOptions(tool_choice="named"))
    pick, args, _, final = server.requests
    assert pick["response_format"]["schema"]["properties"]["next"]["enum"] == ["search_sops", "get_payments", "answer"]
    assert args["tool_choice"] == {"type": "function", "function": {"name": "get_payments"}}
    assert [t["function"]["name"] for t in args["tools"]] == ["get_payments"]
    assert "PAY-77120" in final["messages"][-1]["content"]
    assert tools.calls == [("get_payments", {"invoice_number": "INV-2026-0912"})]
    assert turn.usage.llm_calls == 4


def test_an_invalid_answer_is_repaired_once() -> None:
    server = ScriptedServer([(200, chat_completion("I think it was short-paid.")),
                             (200, answer("Short by 500.00.", []))])
    turn = chat_turn(QUESTION, ctx=Scope(), settings=settings(), registry=FakeTools(), client=server.client())
    assert server.requests[1]["messages"][-2] == {"role": "assistant", "content": "I think it was short-paid."}
    assert turn.answer == "Short by 500.00." and turn.usage.llm_calls == 2


def test_a_refused_chat_raises() -> None:
    from agent.llm.base import BackendError

    server = ScriptedServer([(200, chat_completion(None, refusal="No."))])
    with pytest.raises(BackendError, match="model refused: No."):
        chat_turn(QUESTION, ctx=Scope(), settings=settings(), registry=FakeTools(), client=server.client())


def test_the_chat_speaks_chat_completions_even_when_the_backend_uses_responses() -> None:
    """Tool specs are in the Chat Completions format; the Responses API would reject them."""
    server = ScriptedServer([(200, answer("Nothing needed.", []))])
    chat_turn(QUESTION, ctx=Scope(), settings=settings(api="responses"), registry=FakeTools(),
              client=server.client())
    assert "messages" in server.requests[0] and "input" not in server.requests[0]


def test_the_real_tools_registry_serves_the_chat_within_its_scope(engine: Engine) -> None:
    """The chat drives `tools` itself: specs generated from the tool signatures, arguments validated
    by `call_tool`, the account scope taken from the ToolContext (never from the model)."""
    from billing.db import transaction
    from billing.models import Account
    from tools import ToolContext, openai_tool_specs, read_only_session

    with transaction(engine) as session:
        account = Account(account_key="ACME-0001", name="Acme Analytics Ltd")
        session.add(account)
        session.flush()
        account_id = account.id
    server = ScriptedServer([
        (200, chat_completion(None, tool_calls=[tool_call("get_account_history", {"limit": 3})])),
        (200, answer("No earlier exceptions for this account.", [])),
    ])
    with read_only_session(engine) as session:
        ctx = ToolContext.for_account(session, account_id=account_id, period="2026-10")
        turn = chat_turn(QUESTION, ctx=ctx, settings=settings(), client=server.client())
    sent = {t["function"]["name"] for t in server.requests[0]["tools"]}
    assert sent == {t["function"]["name"] for t in openai_tool_specs()} and "get_account_history" in sent
    assert turn.tool_calls[0].error is None and turn.tool_calls[0].name == "get_account_history"
    assert server.requests[0]["messages"][1]["content"] == f"Scope: {{account_id: {account_id}, period: 2026-10}}"
    assert server.requests[1]["messages"][-1]["role"] == "tool"
