"""Drafts written from templates and filled only with facts taken from the evidence.

Every amount, quantity, id and period in a draft comes from the exception or the evidence
records, so the verify step can find each one again. The wording is short and specific:
what we see, the records, the ask.
"""

from __future__ import annotations

from typing import Any

from agent.llm.base import CaseInput
from agent.schemas import Action, Category, Classification, Draft, EscalateTo
from agent.taxonomy import is_our_rule
from billing.money import CURRENCIES, decimal_or_none, fmt
from billing.settings import EmailSettings

MAX_IDS = 8

ASKS: dict[Action, str] = {
    Action.REQUEST_PARTNER_CORRECTION: "Please review the records above and correct the billing, or tell us which record of ours is wrong.",
    Action.REFUND_REQUEST: "Please process a refund of the over-billed amount to the buyer; we are filing the refund request form with this message.",
    Action.CHASE_PAYMENT: "Please confirm when the outstanding amount will be paid, or send the remittance detail for any deduction.",
    Action.CREDIT_NOTE: "We will issue a credit note for the difference above; please confirm the account and invoice it should apply to.",
    Action.REBILL: "We will re-invoice the difference above for the period.",
    # Only a customer is emailed about resending: AWS refused our metering as not subscribed while
    # their agreement is in force (the rejected metering runbook's email outline).
    Action.RESEND_METERING: ("AWS Marketplace answers that your subscription is not active, although your agreement "
                             "with us is in force. Please re-subscribe or accept the offer again in AWS Marketplace, "
                             "or tell us if you meant to cancel. We are holding the usage above and will send it "
                             "once the subscription is active again."),
}
# To a customer about an invoice of ours the case names: it is reissued (their AP team rejected it, or never got it).
CUSTOMER_REBILL_ASK = ("We will reissue the invoice above for the period. Please tell us if your accounts payable "
                       "team needs anything else on it (a purchase order number, an address) for it to be accepted.")
# To a customer we never invoiced (the missing invoice runbook: the delay noted in the cover email).
CUSTOMER_LATE_INVOICE_ASK = ("We are issuing the invoice for the period now; it should have reached you earlier, and "
                             "we apologise for the delay. Please tell us if your accounts payable team needs anything "
                             "on it (a purchase order number, an address) for it to be accepted.")
CUSTOMER_REBILL_WITH_PO = ("We will reissue the invoice above for the period with purchase order {po} on it. Please "
                           "tell us if your accounts payable team needs anything else for it to be accepted.")
#: Where an exception's details name the purchase order the customer requires.
PO_KEYS = ("po_required", "po_number", "purchase_order", "purchase_order_number", "po")


STEPS: dict[Action, str] = {
    Action.RESEND_METERING: "Resend the missing usage records through BatchMeterUsage if still inside the metering window; otherwise book the usage as lost or bill it under the contract, and open a metering pipeline incident.",
    Action.FIX_METERING_MAPPING: "Correct the customer/dimension mapping in the metering pipeline, then refund or rebill the affected usage.",
    Action.WRITE_OFF: "Write the amount off under the approval matrix, with the exception id as reference and the records above as support.",
    Action.BOOK_FX_VARIANCE: "Book the difference to the FX variance account at the rate of the disbursement date.",
    Action.NO_ACTION_TIMING: "No action: the difference sits on the period boundary (the marketplace cuts periods at midnight UTC) and should net out next period; re-check on the next cycle.",
    Action.INVESTIGATE: "Investigate with the owning team before any correction; attach the records above.",
    Action.CREDIT_NOTE: "Issue a credit note for the difference above against the affected invoice.",
    Action.REBILL: "Re-invoice the difference above for the period.",
    Action.CHASE_PAYMENT: "Chase the outstanding amount with the payer.",
    Action.REQUEST_PARTNER_CORRECTION: "Ask the partner to correct the billing with the records above.",
    Action.REFUND_REQUEST: "File a refund request for the over-billed amount.",
}


def _money(value: Any, currency: str | None) -> str | None:
    amount = decimal_or_none(value)
    if amount is None:
        return None
    cur = currency if currency in CURRENCIES else "USD"
    return fmt(abs(amount), cur)


def _qty(value: Any) -> str | None:
    q = decimal_or_none(value)
    return None if q is None else f"{abs(q).normalize():,f}"


#: How a kind of record the exception names reads in a draft (other kinds: their key in words).
RECORD_KINDS: dict[str, str] = {
    "billing_events": "Billing events", "contracts": "Contract", "invoices": "Invoices", "payments": "Payments",
    "credit_notes": "Credit notes", "refund_requests": "Refund requests", "agreements": "Agreements",
    "partner_usage": "Partner usage rows", "usage": "Our usage records", "usage_records": "Our usage records",
    "metering_results": "Metering records", "disbursements": "Disbursements", "payouts": "Payouts",
}
#: How a category reads inside a sentence ("a difference we believe is ..."); others: "a/an" + its name.
CATEGORY_PHRASES: dict[Category, str] = {
    Category.DROPPED_METERING: "dropped metering (usage that never reached the marketplace)",
    Category.DUPLICATE_METERING: "duplicate metering",
    Category.REJECTED_METERING: "rejected metering (usage the marketplace refused)",
    Category.WRONG_DIMENSION: "usage metered under the wrong dimension",
    Category.CREDIT_MISAPPLIED: "a misapplied credit",
    Category.FX_VARIANCE: "an FX variance",
    Category.FORGIVEN_CHARGE: "a forgiven charge",
}


def category_phrase(category: Category) -> str:
    """The category as words that read in a sentence: "duplicate metering", "an entitlement mismatch"."""
    if category in CATEGORY_PHRASES:
        return CATEGORY_PHRASES[category]
    label = category.value.replace("_", " ")
    return f"{'an' if label[:1] in 'aeiou' else 'a'} {label}"


def record_lines(case: CaseInput, limit: int = MAX_IDS) -> list[str]:
    """The records the exception names, one line per kind ("Contract: CT-1", "Invoices: A, B"),
    at most `limit` ids in all (the exception names the rest)."""
    refs = case.exception.get("record_refs") or {}
    lines: list[str] = []
    left = limit
    for kind in sorted(refs):
        ids = list(dict.fromkeys(str(rid) for rid in refs[kind] or []))
        if not ids or left <= 0:
            continue
        shown, left = ids[:left], left - len(ids[:left])
        more = " and more named by the exception" if len(shown) < len(ids) else ""
        lines.append(f"{RECORD_KINDS.get(kind, kind.replace('_', ' ').capitalize())}: {', '.join(shown)}{more}")
    return lines


def record_ids(case: CaseInput, limit: int = MAX_IDS) -> list[str]:
    """The ids of the records the exception names, in a stable order."""
    refs = case.exception.get("record_refs") or {}
    # First-seen order without repeats: a metering gap can name hundreds of hours.
    ids = dict.fromkeys(str(rid) for kind in sorted(refs) for rid in refs[kind])
    return list(ids)[:limit]


def _facts(case: CaseInput) -> list[str]:
    exc = case.exception
    cur = exc.get("currency")
    lines = [f"Period: {exc.get('period')}"]
    if exc.get("product_code"):
        dim = f" / dimension {exc['dimension_key']}" if exc.get("dimension_key") else ""
        lines.append(f"Product: {exc['product_code']}{dim}")
    for label, key in (("Expected", "expected_amount"), ("Observed", "observed_amount"), ("Difference", "delta_amount")):
        text = _money(exc.get(key), cur)
        if text:
            lines.append(f"{label}: {text}")
    for label, key in (("Expected quantity", "expected_quantity"), ("Observed quantity", "observed_quantity")):
        text = _qty(exc.get(key))
        if text:
            lines.append(f"{label}: {text}")
    usage = _usage_line(case)
    if usage:
        lines.append(usage)
    return lines


def _usage_line(case: CaseInput) -> str | None:
    """Our usage of the exception's dimension against the partner's feed, when they differ: the
    quantity a usage case is about (a refused retry's exception states only what AWS accepted)."""
    exc = case.exception
    dim, product = exc.get("dimension_key"), exc.get("product_code")
    summary = case.evidence.get("get_usage_summary")
    totals = summary.get("totals") if isinstance(summary, dict) else None
    row = next((t for t in totals or [] if isinstance(t, dict) and dim and t.get("dimension_key") == dim
                and (product is None or t.get("product_code") == product)), None)
    if row is None or not decimal_or_none(row.get("difference")):
        return None
    ours, partner = _qty(row.get("ours")), _qty(row.get("partner"))
    if ours is None or partner is None:
        return None
    return f"Usage of {dim} in the period: ours {ours}, the partner's feed {partner}"


def _reissue_ask(exc: dict[str, Any]) -> str:
    """The ask of a reissued invoice, naming the purchase order when the exception states it."""
    details = exc.get("details") or {}
    po = next((str(details[k]) for k in PO_KEYS if details.get(k)), None)
    return CUSTOMER_REBILL_WITH_PO.format(po=po) if po else CUSTOMER_REBILL_ASK


def render_draft(case: CaseInput, decision: Classification, contacts: EmailSettings) -> Draft:
    """The draft for a decision: an email when someone outside must act, else an internal note."""
    exc = case.exception
    ids = record_ids(case)
    facts = "\n".join(f"- {line}" for line in _facts(case))
    records = "\n".join(f"- {line}" for line in record_lines(case)) or "- (see the exception record)"
    period = exc.get("period")
    # `other` names no cause: an email says what it is about in plain words instead.
    label = decision.category.value.replace("_", " ")
    topic = "billing query" if decision.category is Category.OTHER else label
    finding = "an item that needs a closer look" if decision.category is Category.OTHER \
        else f"a difference we believe is {category_phrase(decision.category)}"
    # Our reconciliation's rules state what they saw in a sentence of figures from the records;
    # another tool's description is its own shorthand, and stays in the attached exception.
    seen = f"{exc['description']}\n\n" if is_our_rule(exc.get("rule")) and exc.get("description") else ""
    steps = decision.sop_chunk_ids[:3]
    if decision.escalate_to in (EscalateTo.PARTNER, EscalateTo.CUSTOMER):
        channel = exc.get("channel") or "direct"
        to = (contacts.partner_contacts.get(channel, contacts.internal_owner)
              if decision.escalate_to is EscalateTo.PARTNER else contacts.customer_contact_role)
        reissue = (decision.action is Action.REBILL and decision.escalate_to is EscalateTo.CUSTOMER
                   and bool((exc.get("record_refs") or {}).get("invoices")))
        late_invoice = (decision.category is Category.MISSING_INVOICE and decision.action is Action.REBILL
                        and decision.escalate_to is EscalateTo.CUSTOMER)
        ask = (_reissue_ask(exc) if reissue else CUSTOMER_LATE_INVOICE_ASK if late_invoice
               else ASKS.get(decision.action, "Please review the records above and let us know how you will resolve the difference."))
        body = (
            f"Hello,\n\nDuring reconciliation for {period} we found {finding}.\n\n{seen}"
            f"{facts}\n\nRecords:\n{records}\n\n{ask}\n\n"
            f"Kind regards,\n{contacts.sender}"
        )
        return Draft(kind="email", to=to, subject=f"Billing discrepancy {period}: {topic} ({exc.get('product_code') or exc.get('channel')})",
                     body=body, attachments=ids, sop_steps=steps)
    step = STEPS.get(decision.action, STEPS[Action.INVESTIGATE])
    body = (
        f"Classification: {label}.\n"
        f"Action: {decision.action.value} — owner {decision.owner}.\n\n{seen}{facts}\n\nRecords:\n{records}\n\n"
        f"Steps: {step}\n\nWhy: {decision.rationale}"
    )
    return Draft(kind="internal_resolution", to=contacts.internal_owner,
                 subject=f"Resolution {period}: {label}", body=body, attachments=ids, sop_steps=steps)
