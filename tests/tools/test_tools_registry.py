"""Every tool is an OpenAI tool whose schema pydantic generates from its signature; calls are validated."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.tools.case_world import World
from tools import (
    TOOLS,
    ToolArgumentsError,
    ToolContext,
    call_tool,
    openai_tool_specs,
    read_only_session,
)
from tools.results import ToolResult

EXPECTED_TOOLS = {
    "get_exception", "get_contract_terms", "get_agreement_state", "get_usage_summary", "get_metering_results",
    "get_partner_billing_events", "get_invoices_and_credits", "get_payments_and_disbursements",
    "check_listing_fee", "get_account_history", "search_sops", "get_messages",
}


def _walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk(value))
    return found


def test_every_tool_is_registered_with_its_docstring_and_result_model() -> None:
    assert set(TOOLS) == EXPECTED_TOOLS
    for name, spec in TOOLS.items():
        assert spec.description == inspect.cleandoc(spec.func.__doc__ or "") and len(spec.description) > 40, name
        assert issubclass(spec.result_model, ToolResult) or spec.result_model.__name__ == "CaseException"


def test_chat_completions_specs_are_generated_from_the_signatures() -> None:
    specs = {s["function"]["name"]: s for s in openai_tool_specs()}
    assert set(specs) == EXPECTED_TOOLS
    for name, spec in specs.items():
        assert spec["type"] == "function"
        params = spec["function"]["parameters"]
        generated = TOOLS[name].args_model.model_json_schema()
        generated.pop("title")
        assert params == generated
        assert params["type"] == "object" and params["additionalProperties"] is False
        signature = list(inspect.signature(TOOLS[name].func).parameters)[1:]
        assert list(params.get("properties", {})) == signature, name
    usage = specs["get_usage_summary"]["function"]["parameters"]["properties"]
    assert usage["granularity"]["enum"] == ["day", "hour", "both"]
    assert (usage["boundary_hours"]["minimum"], usage["boundary_hours"]["maximum"]) == (1, 72)
    assert "account_id" not in json.dumps(specs)  # the scope never comes from the model


def test_strict_specs_follow_openai_strict_mode_rules() -> None:
    """Strict mode: every object closed, every property required (optional ones nullable), no defaults."""
    for spec in openai_tool_specs(strict=True):
        assert spec["function"]["strict"] is True
        for node in _walk(spec["function"]["parameters"]):
            assert "default" not in node
            if node.get("type") == "object" and "properties" in node:
                assert node["additionalProperties"] is False
                assert node["required"] == list(node["properties"])


def test_call_tool_accepts_json_text_and_applies_defaults_for_nulls(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        ctx = ToolContext.for_exception(session, world.case_id)
        from_text = call_tool(ctx, "get_metering_results", '{"limit": 1}')
        from_dict = call_tool(ctx, "get_metering_results", {"limit": 1})
        strict_nulls = call_tool(ctx, "get_usage_summary", {"product_code": None, "dimension_key": None,
                                                             "granularity": None, "boundary_hours": None,
                                                             "all_days": None})
        default = call_tool(ctx, "get_usage_summary", "")
    assert from_text == from_dict and len(from_text.not_accepted) == 1 and from_text.truncated
    assert strict_nulls == default


@pytest.mark.parametrize(("name", "arguments", "message"), [
    ("no_such_tool", {}, "unknown tool"),
    ("get_metering_results", "{not json", "not JSON"),
    ("get_metering_results", "[1, 2]", "JSON object"),
    ("get_metering_results", {"limit": 0}, "limit"),
    ("get_metering_results", {"limit": "many"}, "limit"),
    ("get_usage_summary", {"granularity": "week"}, "granularity"),
    ("search_sops", {"query": "refund", "channels": ["direct"]}, "channels"),
])
def test_bad_calls_are_refused_with_a_message_a_model_can_act_on(sqlite_engine: Engine, sqlite_world: World,
                                                                  name: str, arguments: Any, message: str) -> None:
    with read_only_session(sqlite_engine) as session:
        ctx = ToolContext.for_exception(session, sqlite_world.case_id)
        with pytest.raises(ToolArgumentsError, match=message):
            call_tool(ctx, name, arguments)
