"""One structured call to an OpenAI-compatible server: dialects, validation, one repair, records.

Why `create` and not `parse`: the SDK's `.parse()` raises on an invalid reply and drops its
text, and we need that text to show the model its mistake in the one repair. So we send the
same `response_format` that `.parse()` would send (built by the SDK's own helper), and
validate the reply with the pydantic model ourselves, always, whatever the server promised.

Retries and timeouts are the SDK's (`max_retries`, `timeout`): it retries connection errors,
timeouts, 408, 409, 429 and 5xx with exponential backoff (0.5 s doubling to 8 s, 25 % jitter)
and honours `Retry-After`/`retry-after-ms` up to 120 s. No hand-written retry loop here.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai
from openai import OpenAI
from openai.lib import type_to_response_format_param
from pydantic import BaseModel, ValidationError

from agent.llm.base import BackendError, BackendResult, Usage
from agent.prompts import invalid_reply_message, schema_instruction
from billing.settings import LLMSettings

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_MAX_ERRORS = 8


class OutputError(BackendError):
    """No valid output after the one repair (or a refusal). Carries what was spent, for the audit."""

    def __init__(self, message: str, *, usage: Usage, raw: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.usage = usage
        self.raw = raw


class RefusalError(OutputError):
    """The model refused; `reason` is its refusal text."""

    def __init__(self, reason: str, *, usage: Usage, raw: list[dict[str, Any]]) -> None:
        super().__init__(f"model refused: {reason}", usage=usage, raw=raw)
        self.reason = reason


def make_client(settings: LLMSettings) -> OpenAI:
    """An SDK client from the settings; timeouts and retries are the SDK's own.

    The bare ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` reach `settings` through `Settings`
    (which fills `llm` from them); they are not read here a second time."""
    api_key, base_url = settings.api_key, settings.base_url
    if not api_key:
        if not base_url:
            raise BackendError("openai backend: no API key (set OPENAI_API_KEY or TRIAGE_LLM__API_KEY)")
        api_key = "unused"  # local servers (llama.cpp, vLLM, Ollama) accept any key
    return OpenAI(api_key=api_key, base_url=base_url, timeout=settings.timeout_s, max_retries=settings.max_retries)


@dataclass
class Reply:
    """What one HTTP exchange produced."""

    text: str | None
    refusal: str | None
    truncated: bool
    usage: Usage
    record: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[Any] = field(default_factory=list)  # Chat Completions tool calls, as the SDK parsed them


def _usage_of_chat(usage: Any) -> Usage:
    if usage is None:
        return Usage(llm_calls=1)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(1, usage.prompt_tokens or 0, usage.completion_tokens or 0, cached)


def _usage_of_responses(usage: Any) -> Usage:
    if usage is None:
        return Usage(llm_calls=1)
    details = getattr(usage, "input_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(1, usage.input_tokens or 0, usage.output_tokens or 0, cached)


def validation_errors(exc: ValidationError) -> list[str]:
    """Pydantic's errors as short `field: message` lines a model can act on."""
    lines = []
    for err in exc.errors()[:_MAX_ERRORS]:
        where = ".".join(str(p) for p in err["loc"]) or "reply"
        lines.append(f"{where}: {err['msg']}")
    return lines


def _json_part(text: str) -> str:
    """The JSON object inside a reply: markdown fences and prose around it are tolerated."""
    match = _FENCE.match(text)
    if match:
        return match.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def parse_reply(text: str | None, out: type[T]) -> tuple[T | None, list[str]]:
    """Validate a reply with the pydantic model; the errors, as lines, when it does not validate."""
    if not text or not text.strip():
        return None, ["the reply was empty"]
    try:
        return out.model_validate_json(_json_part(text)), []
    except ValidationError as exc:
        return None, validation_errors(exc)


class StructuredCaller:
    """Sends one prompt for one pydantic output, in the configured API and dialect."""

    def __init__(self, settings: LLMSettings, client: OpenAI | None = None, *, max_tokens_param: str = "max_tokens"):
        self.settings = settings
        self.client = client or make_client(settings)
        # OpenAI's reasoning models want `max_completion_tokens`; most servers know `max_tokens`.
        self.max_tokens_param = max_tokens_param

    # -- request building -------------------------------------------------------------------

    def _chat_format(self, out: type[BaseModel]) -> dict[str, Any] | None:
        dialect = self.settings.structured_output
        if dialect == "none":
            return None
        wire = type_to_response_format_param(out)  # exactly what `.parse(response_format=out)` sends
        if dialect == "json_schema":
            return dict(wire)  # type: ignore[arg-type]
        return {"type": "json_object", "schema": wire["json_schema"]["schema"]}  # type: ignore[index]

    def _responses_format(self, out: type[BaseModel]) -> dict[str, Any] | None:
        dialect = self.settings.structured_output
        if dialect == "none":
            return None
        if dialect == "json_object":
            return {"type": "json_object"}
        wire = type_to_response_format_param(out)["json_schema"]  # type: ignore[index]
        # The Responses API flattens `json_schema` (what `.parse(text_format=out)` sends).
        return {"type": "json_schema", "name": wire["name"], "schema": wire["schema"], "strict": True}

    def _with_schema_hint(self, messages: list[dict[str, Any]], out: type[BaseModel]) -> list[dict[str, Any]]:
        """With no structured-output parameter, the schema goes at the end of the (static) system text."""
        if self.settings.structured_output != "none" or not messages or messages[0]["role"] != "system":
            return messages
        first = {**messages[0], "content": messages[0]["content"] + schema_instruction(out)}
        return [first, *messages[1:]]

    # -- one exchange -----------------------------------------------------------------------

    def send(self, messages: list[dict[str, Any]], out: type[BaseModel] | None, max_tokens: int,
             extra: dict[str, Any] | None = None) -> Reply:
        """One request (the SDK retries it as needed); `extra` adds Chat Completions parameters (tools...)."""
        s = self.settings
        started = time.perf_counter()
        tool_calls: list[Any] = []
        if s.api == "responses":
            kwargs: dict[str, Any] = {"model": s.model, "input": messages, "temperature": s.temperature,
                                      "max_output_tokens": max_tokens, **(extra or {})}
            fmt = self._responses_format(out) if out else None
            if fmt:
                kwargs["text"] = {"format": fmt}
            raw = self.client.responses.with_raw_response.create(**kwargs)
            response = raw.parse()
            refusal = next((c.refusal for o in response.output if o.type == "message"
                            for c in o.content if c.type == "refusal"), None)
            text = response.output_text or None
            truncated = getattr(response.incomplete_details, "reason", None) == "max_output_tokens"
            usage = _usage_of_responses(response.usage)
        else:
            kwargs = {"model": s.model, "messages": messages, "temperature": s.temperature,
                      self.max_tokens_param: max_tokens, **(extra or {})}
            fmt = self._chat_format(out) if out else None
            if fmt:
                kwargs["response_format"] = fmt
            raw = self.client.chat.completions.with_raw_response.create(**kwargs)
            response = raw.parse()
            choice = response.choices[0]
            text, refusal = choice.message.content, choice.message.refusal
            tool_calls = list(choice.message.tool_calls or [])
            truncated = choice.finish_reason == "length"
            usage = _usage_of_chat(response.usage)
        record = {
            "api": s.api,
            "base_url": str(self.client.base_url),
            "request": kwargs,  # the body only: headers (and so Authorization) are never stored
            "response": response.model_dump(mode="json", exclude_none=True),
            "status_code": raw.status_code,
            "request_id": raw.headers.get("x-request-id"),
            "retries_taken": raw.retries_taken,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        return Reply(text, refusal, truncated, usage, record, tool_calls)

    def exchange(self, purpose: str, attempt: int, messages: list[dict[str, Any]], out: type[BaseModel] | None,
                 max_tokens: int, usage: Usage, raw: list[dict[str, Any]],
                 extra: dict[str, Any] | None = None) -> Reply:
        """`send`, with its record appended to `raw`; an API error (after retries) becomes `OutputError`."""
        try:
            reply = self.send(messages, out, max_tokens, extra)
        except openai.APIError as exc:  # after the SDK's own retries
            raw.append({"purpose": purpose, "attempt": attempt, "error": f"{type(exc).__name__}: {exc}"})
            raise OutputError(f"{purpose}: {type(exc).__name__}: {exc}", usage=usage, raw=raw) from exc
        raw.append({"purpose": purpose, "attempt": attempt, **reply.record})
        return reply

    # -- the call ---------------------------------------------------------------------------

    def call(self, purpose: str, messages: list[dict[str, Any]], out: type[T], *, max_tokens: int,
             repairs: int = 1, extra: dict[str, Any] | None = None) -> BackendResult[T]:
        """Ask for `out`; validate with pydantic; on an invalid reply, ONE repair showing the errors.

        A refusal raises `RefusalError`; a reply still invalid after the repair, or an API
        error after the SDK's retries, raises `OutputError` (both are `BackendError`s and
        carry the usage and raw records spent so far). `repairs=0` is for a caller whose
        message list already is the repair.
        """
        messages = self._with_schema_hint(messages, out)
        usage, raw = Usage(), []
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            reply = self.exchange(purpose, attempt, messages, out, max_tokens, usage, raw, extra)
            usage = usage.add(reply.usage)
            if reply.refusal:
                raise RefusalError(reply.refusal, usage=usage, raw=raw)
            value, errors = parse_reply(reply.text, out)
            if value is not None:
                break
            if reply.truncated:
                errors.append(f"the reply was cut off at {max_tokens} tokens: write a much shorter reply")
            raw[-1]["invalid"] = errors
            if attempt > repairs:
                raise OutputError(f"{purpose}: invalid output after {repairs} repair(s): {'; '.join(errors)}",
                                  usage=usage, raw=raw)
            messages = [*messages, {"role": "assistant", "content": reply.text or ""},
                        invalid_reply_message(errors)]
        return BackendResult(value=value, usage=usage, latency_ms=round((time.perf_counter() - started) * 1000, 1),
                             model=self.settings.model, raw=raw)
