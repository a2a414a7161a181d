"""Read-only evidence tools for the triage agent and the chat.

Each tool is a typed function `tool(ctx: ToolContext, **arguments) -> pydantic model`; the
account comes from the case in `ctx`, never from a model's arguments. The same functions are
OpenAI tools (schemas generated from their signatures):

    with read_only_session(engine) as session:
        ctx = ToolContext.for_exception(session, exception_id)
        evidence = gather_evidence(ctx)                        # the graph's `gather` node
        specs = openai_tool_specs()                            # Chat Completions `tools=`
        result = call_tool(ctx, "get_usage_summary", '{"granularity": "hour"}')
"""

from tools import case_tools, contract_tools, listing_fee, money_tools, sop_tools, usage_tools  # noqa: F401 - registers
from tools.case_tools import get_account_history, get_exception, get_messages
from tools.context import (
    EvidenceCache,
    SopSearch,
    ToolArgumentsError,
    ToolContext,
    ToolError,
    ToolScopeError,
)
from tools.contract_tools import get_agreement_state, get_contract_terms
from tools.evidence import (
    PLANS,
    cited_ids,
    evidence_hash,
    gather_evidence,
    gather_evidence_batch,
    plan_for,
)
from tools.listing_fee import check_listing_fee
from tools.money_tools import (
    get_invoices_and_credits,
    get_partner_billing_events,
    get_payments_and_disbursements,
)
from tools.readonly import ReadOnlyError, is_read_only, read_only_session
from tools.registry import TOOLS, Tool, call_tool, openai_tool_specs
from tools.sop_tools import search_sops
from tools.usage_tools import get_metering_results, get_usage_summary

__all__ = [
    "PLANS", "TOOLS", "EvidenceCache", "ReadOnlyError", "SopSearch", "Tool", "ToolArgumentsError", "ToolContext", "ToolError",
    "ToolScopeError", "call_tool", "check_listing_fee", "cited_ids", "evidence_hash", "gather_evidence",
    "gather_evidence_batch",    "get_account_history", "get_agreement_state", "get_contract_terms", "get_exception",
    "get_invoices_and_credits", "get_messages", "get_metering_results", "get_partner_billing_events",
    "get_payments_and_disbursements", "get_usage_summary", "is_read_only", "openai_tool_specs", "plan_for",
    "read_only_session", "search_sops",
]
