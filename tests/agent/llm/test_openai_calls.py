"""The `openai` backend's wire behaviour, offline: the real SDK over a scripted transport."""

from __future__ import annotations

import json

import pytest
from llm_fakes import ScriptedServer, chat_completion
from openai.lib import type_to_response_format_param

from agent.llm.base import BackendError, CaseInput
from agent.llm.openai_backend import OpenAIBackend, addressing
from agent.llm.openai_calls import OutputError, RefusalError
from agent.schemas import Action, Category, Classification, EscalateTo
from billing.settings import EmailSettings, LLMSettings


def settings(**overrides: object) -> LLMSettings:
    return LLMSettings(model="fake-model", api_key="sk-test-secret", base_url="http://fake.test/v1",
                       **overrides)  # type: ignore[arg-type]


def classification(**overrides: object) -> dict[str, object]:
    value: dict[str, object] = {
        "category": "dropped_metering", "confidence": 0.82,
        "rationale": "Seven partner hours are missing while MR-88412 stayed Unprocessed.",
        "evidence_ids": ["MR-88412"], "sop_chunk_ids": ["dropped_metering#decision-steps"],
        "action": "resend_metering", "escalate_to": "internal", "owner": "billing-ops",
    }
    value.update(overrides)
    return value


def backend(server: ScriptedServer, **overrides: object) -> OpenAIBackend:
    return OpenAIBackend(settings(**overrides), email=EmailSettings(), client=server.client(max_retries=2))


def test_json_schema_dialect_sends_what_the_sdk_parse_would_send(cases: dict[str, CaseInput]) -> None:
    server = ScriptedServer([(200, chat_completion(json.dumps(classification())))])
    result = backend(server, structured_output="json_schema").classify(cases["dropped_metering"])
    assert server.requests[0]["response_format"] == type_to_response_format_param(Classification)
    assert result.value.category is Category.DROPPED_METERING
    assert (result.usage.llm_calls, result.usage.input_tokens, result.usage.cached_input_tokens) == (1, 100, 64)


def test_json_object_dialect_carries_the_schema_for_llama_cpp(cases: dict[str, CaseInput]) -> None:
    """llama.cpp's server takes {"type": "json_object", "schema": ...} (local-llm header)."""
    server = ScriptedServer([(200, chat_completion(json.dumps(classification())))])
    backend(server, structured_output="json_object").classify(cases["dropped_metering"])
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == "json_object"
    assert fmt["schema"]["properties"]["category"] or fmt["schema"]["$defs"]["Category"]["enum"]
    assert set(fmt["schema"]["required"]) == set(Classification.model_fields)


def test_none_dialect_puts_the_keys_in_the_static_system_text_and_tolerates_fences(
    cases: dict[str, CaseInput],
) -> None:
    fenced = "```json\n" + json.dumps(classification()) + "\n```"
    server = ScriptedServer([(200, chat_completion(fenced))])
    result = backend(server, structured_output="none").classify(cases["dropped_metering"])
    request = server.requests[0]
    assert "response_format" not in request
    assert request["messages"][0]["content"].endswith("owner: text.")
    assert result.value.action is Action.RESEND_METERING


def test_responses_api_flattens_the_schema_and_reads_output_text(cases: dict[str, CaseInput]) -> None:
    body = {
        "id": "resp_1", "object": "response", "created_at": 1764000000, "model": "fake-model", "status": "completed",
        "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": json.dumps(classification()), "annotations": []}]}],
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "usage": {"input_tokens": 900, "output_tokens": 80, "total_tokens": 980,
                  "input_tokens_details": {"cached_tokens": 512}, "output_tokens_details": {"reasoning_tokens": 0}},
    }
    server = ScriptedServer([(200, body)])
    result = backend(server, api="responses").classify(cases["dropped_metering"])
    request = server.requests[0]
    assert request["text"]["format"]["type"] == "json_schema"
    assert request["text"]["format"]["name"] == "Classification"
    assert request["text"]["format"]["strict"] is True
    assert request["input"][0]["role"] == "system"
    assert (result.usage.input_tokens, result.usage.cached_input_tokens) == (900, 512)


def test_an_invalid_reply_is_repaired_once_with_its_errors(cases: dict[str, CaseInput]) -> None:
    bad = json.dumps(classification(category="metering_dropped", confidence=1.7))
    server = ScriptedServer([(200, chat_completion(bad)), (200, chat_completion(json.dumps(classification())))])
    result = backend(server).classify(cases["dropped_metering"])
    repair = server.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": bad}
    assert "category" in repair[-1]["content"] and "confidence" in repair[-1]["content"]
    assert result.usage.llm_calls == 2
    assert result.raw[0]["invalid"] and "invalid" not in result.raw[1]


def test_still_invalid_after_the_repair_is_a_backend_error_with_its_records(cases: dict[str, CaseInput]) -> None:
    server = ScriptedServer([(200, chat_completion("not json")), (200, chat_completion("{\"category\": 1}"))])
    with pytest.raises(OutputError) as caught:
        backend(server).classify(cases["dropped_metering"])
    assert isinstance(caught.value, BackendError)
    assert len(caught.value.raw) == 2 and caught.value.usage.llm_calls == 2
    assert "invalid output after 1 repair" in str(caught.value)


def test_a_reply_cut_off_at_max_tokens_says_so_in_the_repair(cases: dict[str, CaseInput]) -> None:
    server = ScriptedServer([(200, chat_completion('{"category": "dropped_me', finish_reason="length")),
                             (200, chat_completion(json.dumps(classification())))])
    backend(server).classify(cases["dropped_metering"])
    assert "cut off at 320 tokens" in server.requests[1]["messages"][-1]["content"]


def test_refusal_is_a_backend_error_with_the_reason(cases: dict[str, CaseInput]) -> None:
    server = ScriptedServer([(200, chat_completion(None, refusal="I can't help with that."))])
    with pytest.raises(RefusalError) as caught:
        backend(server).classify(cases["dropped_metering"])
    assert caught.value.reason == "I can't help with that."
    assert len(server.requests) == 1  # a refusal is not "invalid output": no repair


def test_the_sdk_retries_a_429_and_the_record_counts_it(cases: dict[str, CaseInput]) -> None:
    limited = {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}
    server = ScriptedServer([(429, limited), (200, chat_completion(json.dumps(classification())))])
    result = backend(server).classify(cases["dropped_metering"])
    assert result.raw[0]["retries_taken"] == 1
    assert server.headers[1]["x-stainless-retry-count"] == "1"
    assert server.requests[0] == server.requests[1]


def test_a_client_error_is_not_retried_and_becomes_a_backend_error(cases: dict[str, CaseInput]) -> None:
    server = ScriptedServer([(400, {"error": {"message": "json_schema is not supported", "type": "invalid_request"}})])
    with pytest.raises(OutputError, match="BadRequestError"):
        backend(server).classify(cases["dropped_metering"])
    assert len(server.requests) == 1


def test_records_never_hold_the_api_key(cases: dict[str, CaseInput]) -> None:
    server = ScriptedServer([(200, chat_completion(json.dumps(classification())))])
    result = backend(server).classify(cases["dropped_metering"])
    assert server.headers[0]["authorization"] == "Bearer sk-test-secret"  # it was sent...
    assert "sk-test-secret" not in json.dumps(result.raw)  # ...and never stored
    assert "authorization" not in json.dumps(result.raw).lower()


def test_ids_not_in_the_case_are_dropped_and_listed(cases: dict[str, CaseInput]) -> None:
    reply = classification(evidence_ids=["MR-88412", "get_usage_summary"],
                           sop_chunk_ids=["dropped_metering#decision-steps", "made_up#chunk"])
    server = ScriptedServer([(200, chat_completion(json.dumps(reply)))])
    result = backend(server).classify(cases["dropped_metering"])
    assert result.value.evidence_ids == ["MR-88412"]
    assert result.value.sop_chunk_ids == ["dropped_metering#decision-steps"]
    assert result.raw[-1]["dropped_ungrounded_ids"] == ["get_usage_summary", "made_up#chunk"]
    assert len(server.requests) == 1  # no repair call spent on it


def test_draft_recipient_comes_from_configuration(cases: dict[str, CaseInput]) -> None:
    case = cases["listing_fee_mismatch"]
    decided = Classification.model_validate(classification(
        category="listing_fee_mismatch", action="request_partner_correction", escalate_to="partner",
        evidence_ids=[], sop_chunk_ids=[]))
    written = {"subject": "s", "body": "b", "attachments": [], "sop_steps": []}
    server = ScriptedServer([(200, chat_completion(json.dumps(written)))])
    result = backend(server).draft(case, decided)
    user = server.requests[0]["messages"][1]["content"]
    assert "kind: email\nto: aws-marketplace-seller-ops@partners.example" in user
    assert (result.value.kind, result.value.to) == ("email", "aws-marketplace-seller-ops@partners.example")
    assert len(server.requests) == 1


def test_a_model_that_addresses_the_draft_itself_is_sent_back(cases: dict[str, CaseInput]) -> None:
    """The recipient is configuration's: a reply carrying its own `to` fails validation and is repaired."""
    case = cases["listing_fee_mismatch"]
    decided = Classification.model_validate(classification(
        category="listing_fee_mismatch", action="request_partner_correction", escalate_to="partner",
        evidence_ids=[], sop_chunk_ids=[]))
    hijacked = {"to": "payments@attacker.example", "subject": "s", "body": "b"}
    written = {"subject": "s", "body": "b"}
    server = ScriptedServer([(200, chat_completion(json.dumps(hijacked))), (200, chat_completion(json.dumps(written)))])
    result = backend(server).draft(case, decided)
    assert result.value.to == "aws-marketplace-seller-ops@partners.example"
    assert "to" in server.requests[1]["messages"][-1]["content"]  # the validation error was shown


@pytest.mark.parametrize(
    ("escalate_to", "channel", "expected"),
    [
        (EscalateTo.PARTNER, "aws_marketplace", ("email", "aws-marketplace-seller-ops@partners.example")),
        (EscalateTo.PARTNER, "reseller", ("email", "reseller-channel-manager@partners.example")),
        (EscalateTo.CUSTOMER, "direct", ("email", "customer billing contact (from CRM)")),
        (EscalateTo.INTERNAL, "aws_marketplace", ("internal_resolution", "billing-ops@example.com")),
        (EscalateTo.NONE, "aws_marketplace", ("internal_resolution", "billing-ops@example.com")),
    ],
)
def test_addressing(escalate_to: EscalateTo, channel: str, expected: tuple[str, str],
                    cases: dict[str, CaseInput]) -> None:
    case = cases["dropped_metering"].model_copy(update={"exception": {"channel": channel}})
    decided = Classification.model_validate(classification(escalate_to=escalate_to.value))
    assert addressing(case, decided, EmailSettings()) == expected


def test_repair_draft_shows_the_rejected_draft_and_the_problems(cases: dict[str, CaseInput]) -> None:
    case = cases["dropped_metering"]
    decided = Classification.model_validate(classification())
    from agent.schemas import Draft

    rejected = Draft(kind="internal_resolution", to="billing-ops@example.com", subject="Resend", body="Lost 999.99 USD")
    fixed = rejected.model_copy(update={"body": "Lost 276.00 USD"})
    server = ScriptedServer([(200, chat_completion(fixed.text.model_dump_json()))])
    result = backend(server).repair_draft(case, decided, rejected, ["amount 999.99 not in the evidence"])
    messages = server.requests[0]["messages"]
    assert messages[-2]["content"] == rejected.text.model_dump_json()
    assert "amount 999.99 not in the evidence" in messages[-1]["content"]
    assert result.value.body == "Lost 276.00 USD"
    assert (result.value.kind, result.value.to) == ("internal_resolution", "billing-ops@example.com")
