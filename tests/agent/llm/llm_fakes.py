"""Fakes for the LLM tests: a scripted OpenAI-compatible transport and a small tool registry.

The scripted transport runs the real SDK end to end (request building, retries, parsing)
over `httpx2.MockTransport`, so unit tests see exactly what goes on the wire, offline.
The tool registry has the interface of `tools` (`openai_tool_specs`, `call_tool`) with two
tools whose JSON schemas are generated from pydantic models, as the real ones are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx2
from openai import OpenAI, pydantic_function_tool
from pydantic import BaseModel, ConfigDict, Field


def chat_completion(content: str | None = None, *, tool_calls: list[dict[str, Any]] | None = None,
                    refusal: str | None = None, finish_reason: str = "stop",
                    prompt_tokens: int = 100, completion_tokens: int = 20) -> dict[str, Any]:
    """A Chat Completions response body."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1764000000, "model": "fake-model",
        "choices": [{"index": 0, "finish_reason": finish_reason, "message": message}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens,
                  "prompt_tokens_details": {"cached_tokens": 64}},
    }


def tool_call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


@dataclass
class ScriptedServer:
    """Answers each request with the next scripted (status, body); keeps every request body."""

    script: list[tuple[int, dict[str, Any]]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(json.loads(request.content))
        self.headers.append(dict(request.headers))
        status, body = self.script.pop(0)
        return httpx2.Response(status, json=body)

    def client(self, *, max_retries: int = 0) -> OpenAI:
        return OpenAI(api_key="sk-test-secret", base_url="http://fake.test/v1", max_retries=max_retries,
                      http_client=httpx2.Client(transport=httpx2.MockTransport(self.handle)))


class SearchSopsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(description="What to look for in the SOPs.")


class GetPaymentsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invoice_number: str = Field(description="The invoice number, e.g. INV-2026-0912.")


class ToolResult(BaseModel):
    data: dict[str, Any]


@cache
def _chunks() -> dict[str, Any]:
    """The real SOP corpus, chunked (imported here, so only the tests that search load it)."""
    from knowledge import BUILTIN_SOP_DIR, load_corpus
    from knowledge.chunking import chunk_sop

    return {c.chunk_id: c for s in load_corpus([BUILTIN_SOP_DIR]).sops for c in chunk_sop(s)}


def _passages(*chunk_ids: str) -> list[dict[str, Any]]:
    chunks = _chunks()
    return [{"chunk_id": c, "sop_id": chunks[c].sop_id, "version": chunks[c].version, "heading": chunks[c].heading,
             "text": " ".join(chunks[c].text.split()[:60])} for c in chunk_ids]


class FakeTools:
    """Two read-only tools over fixed data, scoped by `ctx.account_id` like the real ones."""

    def __init__(self, on_call: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.on_call = on_call

    def openai_tool_specs(self) -> list[dict[str, Any]]:
        return [
            dict(pydantic_function_tool(SearchSopsArgs, name="search_sops",
                                        description="Search the billing SOPs; returns passages with chunk_id.")),
            dict(pydantic_function_tool(GetPaymentsArgs, name="get_payments",
                                        description="Payments received against one invoice of this account.")),
        ]

    def call_tool(self, ctx: Any, name: str, arguments: str | dict[str, Any]) -> BaseModel:
        args = json.loads(arguments) if isinstance(arguments, str) else arguments
        self.calls.append((name, args))
        if name == "search_sops":
            query = SearchSopsArgs.model_validate(args).query
            return ToolResult(data={"query": query, "passages": _passages(
                "short_payment#decision-steps", "credit_misapplied#symptoms")})
        if name == "get_payments":
            invoice = GetPaymentsArgs.model_validate(args).invoice_number
            if invoice != "INV-2026-0912":
                raise LookupError(f"no invoice {invoice} for account {ctx.account_id}")
            return ToolResult(data={"invoice_number": invoice, "invoice_total": "8400.00", "currency": "USD",
                                    "payments": [{"payment_id": "PAY-77120", "amount": "7900.00",
                                                  "received": "2026-11-02"}],
                                    "remittance_note": "We deducted 500.00 for the outage credit."})
        raise KeyError(f"unknown tool {name}")
