"""`gather_evidence`: the tools a case's rule calls for, called in a fixed order, as plain JSON.

The graph's `gather` node calls it once per case. What is gathered depends only on the
exception's rule (usage differences need usage and metering; money differences need billing
events, invoices and payments), so two runs over the same data give the same evidence, and
its hash identifies it in the audit trail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from tools.context import EvidenceCache, ToolContext, ToolError
from tools.registry import TOOLS

#: Always first and last: the exception itself; the account's history and its messages.
HEAD = ("get_exception", "get_contract_terms")
TAIL = ("get_account_history", "get_messages")

#: What each reconciliation rule's differences call for, beyond HEAD and TAIL.
PLANS: dict[str, tuple[str, ...]] = {
    "usage_vs_partner_usage": ("get_agreement_state", "get_usage_summary", "get_metering_results"),
    "metering_not_accepted": ("get_agreement_state", "get_metering_results", "get_usage_summary"),
    "metering_gaps": ("get_agreement_state", "get_usage_summary", "get_metering_results"),
    "billed_rate_vs_contract": ("get_agreement_state", "get_usage_summary", "get_partner_billing_events"),
    "usage_without_agreement": ("get_agreement_state", "get_usage_summary", "get_partner_billing_events"),
    "usage_without_invoice": ("get_agreement_state", "get_usage_summary", "get_partner_billing_events",
                              "get_invoices_and_credits"),
    "channel_overlap": ("get_partner_billing_events", "get_invoices_and_credits", "get_usage_summary"),
    "listing_fee_vs_contract": ("check_listing_fee", "get_partner_billing_events"),
    "disbursed_vs_invoiced": ("get_partner_billing_events", "check_listing_fee", "get_payments_and_disbursements",
                              "get_invoices_and_credits"),
    "forgiven_charges": ("get_partner_billing_events", "get_invoices_and_credits"),
    "disbursement_integrity": ("get_partner_billing_events", "get_payments_and_disbursements"),
    "refunds_vs_approvals": ("get_partner_billing_events", "get_invoices_and_credits"),
    "credits_vs_credit_notes": ("get_partner_billing_events", "get_invoices_and_credits"),
    "fx_conversion": ("get_partner_billing_events", "get_payments_and_disbursements"),
    "tax_treatment": ("get_partner_billing_events", "get_invoices_and_credits"),
    "reseller_wholesale": ("get_partner_billing_events", "check_listing_fee"),
    "direct_payments": ("get_invoices_and_credits", "get_payments_and_disbursements"),
}
#: A rule nobody planned for gets every evidence tool (SOP search is the retrieve step's job).
DEFAULT_PLAN = ("get_agreement_state", "get_usage_summary", "get_metering_results", "get_partner_billing_events",
                "check_listing_fee", "get_invoices_and_credits", "get_payments_and_disbursements")

#: Keys whose values are record ids a draft may cite.
ID_KEYS = frozenset({
    "id", "natural_key", "billing_event_id", "parent_billing_event_id", "disbursement_billing_event_id",
    "usage_feed_id", "invoice_number", "invoice_id", "buyer_invoice_id", "partner_invoice_id", "payment_id",
    "credit_note_number", "request_id", "contract_key", "agreement_id", "offer_id", "message_id",
    "metering_record_id", "record_id", "bank_trace_id", "account_key", "product_code", "chunk_id",
})


def plan_for(rule: str | None) -> tuple[str, ...]:
    """The tools gathered for an exception of `rule`, in order."""
    return (*HEAD, *PLANS.get(rule or "", DEFAULT_PLAN), *TAIL)


def gather_evidence(ctx: ToolContext) -> dict[str, Any]:
    """Call the tools planned for the case's rule; return ``{tool name: result as JSON}``.

    Decimals are strings, timestamps ISO UTC, every record carries its id. A tool that cannot
    answer (e.g. no account to look in) leaves ``{"error": "..."}`` under its name instead."""
    exception = TOOLS["get_exception"].func(ctx)
    evidence: dict[str, Any] = {}
    for name in plan_for(exception.rule):  # type: ignore[attr-defined]
        if name == "get_exception":
            evidence[name] = exception.model_dump(mode="json")
            continue
        try:
            evidence[name] = TOOLS[name].func(ctx).model_dump(mode="json")
        except ToolError as exc:
            evidence[name] = {"error": str(exc)}
    return evidence


def gather_evidence_batch(session: Session, exception_ids: Iterable[int], *,
                          shared: EvidenceCache | None = None) -> dict[int, dict[str, Any]]:
    """`gather_evidence` for many cases on one read-only session: their first reads done
    set-based (`tools.prefetch`), and what cases of the same account and product have in
    common (their month of usage, metering, contracts...) read once. The same evidence as
    `gather_evidence` per case."""
    from tools.prefetch import prefetch_contexts  # here: the prefetch reads the plans of this module

    ids = list(exception_ids)
    cache = shared if shared is not None else EvidenceCache()
    contexts = prefetch_contexts(session, ids, shared=cache)
    # An id that is not there fails as it does alone (ToolScopeError), in its turn.
    return {i: gather_evidence(contexts.get(i) or ToolContext.for_exception(session, i, shared=cache)) for i in ids}


def cited_ids(evidence: Any) -> set[str]:
    """Every record id in an evidence bundle (what a draft may cite), walking nested results."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ID_KEYS and isinstance(value, (str, int)) and value != "":
                    found.add(str(value))
                elif key == "billing_event_ids" and isinstance(value, list):
                    found.update(str(v) for v in value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(evidence)
    return found


def evidence_hash(evidence: dict[str, Any]) -> str:
    """A stable hash of an evidence bundle (sorted keys), for the audit trail."""
    return hashlib.sha256(json.dumps(evidence, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
