"""One chat turn for billing ops: tool calls -> results -> an answer with SOP citations.

The tools are the read-only evidence tools (`tools.openai_tool_specs()`,
`tools.call_tool(ctx, name, arguments)`); `ctx` carries the account/case scope set by the
application, so a model can never widen it. The number of tool rounds is bounded.

Servers differ in how they do tool calling, hence the `tool_choice` strategies:

- `auto`: native tool calling (`tool_choice="auto"`, results as `tool` turns), the answer
  as structured output in the same request: OpenAI, vLLM with a capable model.
- `required`: the same, but the first round must call a tool (`tool_choice="required"`).
- `named`: for small models that return tool calls only when `tool_choice` names the
  function (llama.cpp's server): each round first asks, as structured output, which tool
  comes next (or `answer`), then makes a call naming that tool to get its arguments. Tool
  results are given back as data in a user turn, because some chat templates drop `tool` turns.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

from openai import OpenAI
from pydantic import BaseModel, ConfigDict, Field, create_model

from agent.case_rendering import as_text, compact
from agent.llm.base import Usage
from agent.llm.openai_calls import RefusalError, StructuredCaller, parse_reply
from agent.prompts import (
    CHAT_ANSWER_ASK,
    CHAT_SYSTEM,
    PROMPT_VERSION,
    chat_facts_message,
    chat_pick_ask,
    chat_scope_message,
    invalid_reply_message,
)
from billing.settings import LLMSettings

ToolChoice = Literal["auto", "required", "named"]
_SCOPE_FIELDS = ("account_id", "exception_id", "channel", "period")


class ToolRegistry(Protocol):
    """What the chat needs from `tools` (the module itself satisfies it)."""

    def openai_tool_specs(self) -> list[dict[str, Any]]: ...

    def call_tool(self, ctx: Any, name: str, arguments: str | dict[str, Any]) -> BaseModel: ...


class ChatMessage(BaseModel):
    """One turn of the conversation so far."""

    role: Literal["user", "assistant"]
    content: str


class ChatAnswer(BaseModel):
    """The model's final answer (structured output)."""

    model_config = ConfigDict(extra="forbid")

    answer: str = Field(description="2 to 5 sentences, amounts and ids copied from the tool results.")
    sop_citations: list[str] = Field(description="chunk_id values of SOP passages from the tool results.")


class ToolCallRecord(BaseModel):
    """One tool the model called, with what came back (or the error it was shown)."""

    name: str
    arguments: dict[str, Any] | str
    result: Any = None
    error: str | None = None


@dataclass(frozen=True)
class ChatOptions:
    """How a turn runs. `max_rounds` bounds the tool calls a turn may make."""

    tool_choice: ToolChoice = "auto"
    max_rounds: int = 4
    answer_tokens: int = 300
    pick_tokens: int = 24
    args_tokens: int = 96
    result_chars: int = 1200


@dataclass
class ChatTurn:
    """The answer, what backed it, and what it cost (for the audit trail)."""

    answer: str
    citations: list[str]
    ungrounded_citations: list[str]
    tool_calls: list[ToolCallRecord]
    usage: Usage
    latency_ms: float
    model: str
    prompt_version: str = PROMPT_VERSION
    raw: list[dict[str, Any]] = field(default_factory=list)


def scope_of(ctx: Any) -> dict[str, Any]:
    """The scope fields a `ToolContext` carries, for the prompt (the tools enforce it, not the prompt)."""
    return {k: getattr(ctx, k) for k in _SCOPE_FIELDS if getattr(ctx, k, None) is not None}


def chunk_ids_in(value: Any) -> set[str]:
    """Every `chunk_id` inside a tool result: the SOP passages an answer may cite."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("chunk_id"), str):
                found.add(item["chunk_id"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


class _Turn:
    """The state of one turn: calls spent, tool results gathered."""

    def __init__(self, caller: StructuredCaller, registry: ToolRegistry, ctx: Any, options: ChatOptions) -> None:
        self.caller, self.registry, self.ctx, self.options = caller, registry, ctx, options
        self.usage = Usage()
        self.raw: list[dict[str, Any]] = []
        self.calls: list[ToolCallRecord] = []

    def run_tool(self, name: str, arguments: str) -> ToolCallRecord:
        try:
            parsed: dict[str, Any] | str = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            parsed = arguments
        try:
            result = self.registry.call_tool(self.ctx, name, parsed if isinstance(parsed, dict) else arguments)
            record = ToolCallRecord(name=name, arguments=parsed, result=result.model_dump(mode="json"))
        except Exception as exc:  # noqa: BLE001 - a tool's failure is shown to the model, never raised
            record = ToolCallRecord(name=name, arguments=parsed, error=f"{type(exc).__name__}: {exc}")
        self.calls.append(record)
        return record

    def fact(self, record: ToolCallRecord) -> str:
        """A tool result as one compact line of data."""
        if record.error:
            body = f"error: {record.error}"
        else:
            body = as_text(compact(record.result, max_items=5, max_str=300))
        text = f"{record.name}({as_text(record.arguments)}) returned {body}"
        limit = self.options.result_chars
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def answer(self, messages: list[dict[str, Any]], extra: dict[str, Any] | None = None,
               repairs: int = 1) -> ChatAnswer:
        result = self.caller.call("chat_answer", messages, ChatAnswer, max_tokens=self.options.answer_tokens,
                                  repairs=repairs, extra=extra)
        self.usage, self.raw = self.usage.add(result.usage), self.raw + result.raw
        return result.value


def _native_turn(turn: _Turn, head: list[dict[str, Any]], specs: list[dict[str, Any]]) -> ChatAnswer:
    """`auto`/`required`: the server runs the tool-calling protocol; the answer is structured output."""
    opts, messages = turn.options, list(head)
    for round_no in range(1, opts.max_rounds + 1):
        choice = "required" if opts.tool_choice == "required" and round_no == 1 else "auto"
        reply = turn.caller.exchange("chat_round", round_no, messages, ChatAnswer, opts.answer_tokens,
                                     turn.usage, turn.raw, {"tools": specs, "tool_choice": choice})
        turn.usage = turn.usage.add(reply.usage)
        if reply.refusal:
            raise RefusalError(reply.refusal, usage=turn.usage, raw=turn.raw)
        if not reply.tool_calls:
            answer, errors = parse_reply(reply.text, ChatAnswer)
            if answer is not None:
                return answer
            repair = [*messages, {"role": "assistant", "content": reply.text or ""}, invalid_reply_message(errors)]
            return turn.answer(repair, {"tools": specs, "tool_choice": "none"}, repairs=0)
        messages.append({"role": "assistant", "content": reply.text,
                         "tool_calls": [tc.model_dump(mode="json", exclude_none=True) for tc in reply.tool_calls]})
        for tc in reply.tool_calls:
            record = turn.run_tool(tc.function.name, tc.function.arguments)
            messages.append({"role": "tool", "tool_call_id": tc.id, "content": turn.fact(record)})
    # Out of rounds: answer from what was gathered, no more tools.
    return turn.answer(messages, {"tools": specs, "tool_choice": "none"})


def _pick_model(names: list[str]) -> type[BaseModel]:
    """`{"next": <tool name> | "answer"}`, its choices fixed by the tools on offer."""
    choices = cast(Any, Literal.__getitem__((*names, "answer")))
    return create_model("NextStep", __config__=ConfigDict(extra="forbid"), next=(choices, ...))


def _summary(spec: dict[str, Any]) -> str:
    """A tool's description, first line only: the pick prompt lists every tool."""
    description = (spec["function"].get("description") or "").strip()
    return description.splitlines()[0] if description else ""


def _named_turn(turn: _Turn, head: list[dict[str, Any]], specs: list[dict[str, Any]]) -> ChatAnswer:
    """`named`: pick a tool (structured output), then a call naming it yields the arguments."""
    opts = turn.options
    by_name = {s["function"]["name"]: s for s in specs}
    lines = [f"- {name}: {_summary(spec)}" for name, spec in by_name.items()]
    picker = _pick_model(list(by_name))
    facts: list[str] = []
    for round_no in range(1, opts.max_rounds + 1):
        pick = turn.caller.call("chat_pick", [*head, chat_facts_message(facts, ask=chat_pick_ask(lines))],
                                picker, max_tokens=opts.pick_tokens)
        turn.usage, turn.raw = turn.usage.add(pick.usage), turn.raw + pick.raw
        name = pick.value.next  # type: ignore[attr-defined]
        if name == "answer":
            break
        ask = f"Call {name} with the arguments that answer the question."
        extra = {"tools": [by_name[name]], "tool_choice": {"type": "function", "function": {"name": name}}}
        reply = turn.caller.exchange("chat_args", round_no, [*head, chat_facts_message(facts, ask=ask)], None,
                                     opts.args_tokens, turn.usage, turn.raw, extra)
        turn.usage = turn.usage.add(reply.usage)
        if not reply.tool_calls:  # the server ignored the named tool_choice: nothing more to gather
            turn.raw[-1]["problem"] = f"no tool call returned for {name}"
            break
        facts.append(turn.fact(turn.run_tool(name, reply.tool_calls[0].function.arguments)))
    return turn.answer([*head, chat_facts_message(facts, ask=CHAT_ANSWER_ASK)])


def chat_turn(
    conversation: list[ChatMessage],
    *,
    ctx: Any,
    settings: LLMSettings,
    registry: ToolRegistry | None = None,
    client: OpenAI | None = None,
    options: ChatOptions = ChatOptions(),
) -> ChatTurn:
    """Answer the last user message of `conversation` with tool-backed facts and SOP citations.

    `ctx` is the tools' context (session + the case/account scope), built by the caller;
    `registry` defaults to the `tools` package. Citations not found in any tool result are
    moved to `ungrounded_citations`. Raises `BackendError` (refusal, invalid output after
    one repair, API failure after the SDK's retries).
    """
    registry = registry or cast(ToolRegistry, importlib.import_module("tools"))
    # Chat Completions whatever `settings.api` says: every compatible server speaks it, and the
    # tool specs (`tools.openai_tool_specs()`) are in its format.
    caller = StructuredCaller(settings.model_copy(update={"api": "chat"}), client)
    turn = _Turn(caller, registry, ctx, options)
    started = time.perf_counter()
    head = [{"role": "system", "content": CHAT_SYSTEM}, chat_scope_message(scope_of(ctx)),
            *(m.model_dump() for m in conversation)]
    specs = registry.openai_tool_specs()
    run = _named_turn if options.tool_choice == "named" else _native_turn
    answer = run(turn, head, specs)
    seen = set().union(*(chunk_ids_in(c.result) for c in turn.calls)) if turn.calls else set()
    return ChatTurn(
        answer=answer.answer,
        citations=[c for c in answer.sop_citations if c in seen],
        ungrounded_citations=[c for c in answer.sop_citations if c not in seen],
        tool_calls=turn.calls,
        usage=turn.usage,
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        model=settings.model,
        raw=turn.raw,
    )
