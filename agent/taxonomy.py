"""What each reconciliation difference can mean, and what each category usually calls for.

Rules state a *difference* (rule + kind); several causes produce the same difference, so a
difference maps to candidate categories, most likely first. The usual resolution per
category follows DOMAIN.md's taxonomy table and the SOP runbooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from agent.schemas import Action, Category, EscalateTo

C = Category

# (rule, kind) -> candidate categories, most likely first. `None` as kind = any kind of that rule.
CANDIDATES: dict[tuple[str, str | None], tuple[Category, ...]] = {
    ("usage_vs_partner_usage", "usage_shortfall"): (
        C.DROPPED_METERING, C.WRONG_DIMENSION, C.TIMING_DIFFERENCE, C.REJECTED_METERING, C.ENTITLEMENT_MISMATCH),
    ("usage_vs_partner_usage", "usage_excess"): (
        C.DUPLICATE_METERING, C.WRONG_DIMENSION, C.TIMING_DIFFERENCE),
    ("metering_not_accepted", "metering_customer_not_subscribed"): (C.REJECTED_METERING, C.ENTITLEMENT_MISMATCH),
    ("metering_not_accepted", "metering_duplicate_record"): (C.DUPLICATE_METERING, C.DROPPED_METERING),
    ("metering_not_accepted", "metering_unprocessed"): (C.DROPPED_METERING, C.REJECTED_METERING),
    ("metering_gaps", "metering_missing_hours"): (C.DROPPED_METERING, C.TIMING_DIFFERENCE),
    ("metering_gaps", "partner_feed_missing_day"): (C.TIMING_DIFFERENCE, C.DROPPED_METERING),
    ("billed_rate_vs_contract", None): (C.PRICE_MISMATCH, C.ENTITLEMENT_MISMATCH),
    ("usage_without_agreement", None): (C.ENTITLEMENT_MISMATCH,),
    ("usage_without_invoice", None): (C.MISSING_INVOICE, C.TIMING_DIFFERENCE, C.ENTITLEMENT_MISMATCH),
    ("channel_overlap", None): (C.CHANNEL_CONFLICT,),
    ("listing_fee_vs_contract", None): (C.LISTING_FEE_MISMATCH,),
    ("disbursed_vs_invoiced", None): (
        C.SHORT_PAYMENT, C.LISTING_FEE_MISMATCH, C.FORGIVEN_CHARGE, C.REFUND_DISCREPANCY,
        C.DISBURSEMENT_FAILURE, C.FX_VARIANCE, C.TIMING_DIFFERENCE),
    ("forgiven_charges", None): (C.FORGIVEN_CHARGE,),
    ("disbursement_integrity", None): (C.DISBURSEMENT_FAILURE,),
    ("refunds_vs_approvals", None): (C.REFUND_DISCREPANCY,),
    ("credits_vs_credit_notes", None): (C.CREDIT_MISAPPLIED,),
    ("fx_conversion", None): (C.FX_VARIANCE,),
    ("tax_treatment", None): (C.TAX_DISCREPANCY,),
    ("reseller_wholesale", None): (C.RESELLER_MARGIN_MISMATCH,),
    ("direct_payments", None): (C.SHORT_PAYMENT, C.CREDIT_MISAPPLIED, C.TIMING_DIFFERENCE),
}


OUR_RULES: frozenset[str] = frozenset(rule for rule, _ in CANDIDATES)

#: Words of another tool's rule or kind and the categories they hint at. A hint never makes a
#: category on its own when the evidence supports another; it breaks near-ties and keeps an
#: unsupported guess above `other` only weakly (written from DOMAIN.md's vocabulary).
KIND_WORDS: dict[str, tuple[Category, ...]] = {
    "refund": (C.REFUND_DISCREPANCY,), "refunds": (C.REFUND_DISCREPANCY,),
    "tax": (C.TAX_DISCREPANCY,), "vat": (C.TAX_DISCREPANCY,), "gst": (C.TAX_DISCREPANCY,),
    "fx": (C.FX_VARIANCE,), "conversion": (C.FX_VARIANCE,), "exchange": (C.FX_VARIANCE,),
    "fee": (C.LISTING_FEE_MISMATCH,), "fees": (C.LISTING_FEE_MISMATCH,), "commission": (C.LISTING_FEE_MISMATCH,),
    "listing": (C.LISTING_FEE_MISMATCH,),
    "reseller": (C.RESELLER_MARGIN_MISMATCH,), "resale": (C.RESELLER_MARGIN_MISMATCH,),
    "wholesale": (C.RESELLER_MARGIN_MISMATCH,), "cppo": (C.RESELLER_MARGIN_MISMATCH,),
    "margin": (C.RESELLER_MARGIN_MISMATCH,),
    "credit": (C.CREDIT_MISAPPLIED,), "discount": (C.CREDIT_MISAPPLIED,),
    "forgiven": (C.FORGIVEN_CHARGE,), "reversed": (C.FORGIVEN_CHARGE,), "reversal": (C.FORGIVEN_CHARGE,),
    "payout": (C.DISBURSEMENT_FAILURE, C.SHORT_PAYMENT), "disbursement": (C.DISBURSEMENT_FAILURE, C.SHORT_PAYMENT),
    "bank": (C.DISBURSEMENT_FAILURE,), "returned": (C.DISBURSEMENT_FAILURE,),
    "short": (C.SHORT_PAYMENT,), "underpaid": (C.SHORT_PAYMENT,), "unpaid": (C.SHORT_PAYMENT,),
    "remittance": (C.SHORT_PAYMENT,), "partial": (C.SHORT_PAYMENT,), "overdue": (C.SHORT_PAYMENT,),
    "collection": (C.SHORT_PAYMENT,), "settled": (C.SHORT_PAYMENT,),
    "unapplied": (C.OTHER, C.SHORT_PAYMENT), "unmatched": (C.OTHER, C.SHORT_PAYMENT),
    "unidentified": (C.OTHER,),
    "duplicate": (C.DUPLICATE_METERING,), "dup": (C.DUPLICATE_METERING,), "double": (C.CHANNEL_CONFLICT,),
    "channel": (C.CHANNEL_CONFLICT,),
    "rejected": (C.REJECTED_METERING,), "subscribed": (C.REJECTED_METERING, C.ENTITLEMENT_MISMATCH),
    "entitlement": (C.ENTITLEMENT_MISMATCH,), "unentitled": (C.ENTITLEMENT_MISMATCH,),
    "subscription": (C.ENTITLEMENT_MISMATCH,), "cancelled": (C.ENTITLEMENT_MISMATCH,),
    "dimension": (C.WRONG_DIMENSION,), "sku": (C.WRONG_DIMENSION,), "mapping": (C.WRONG_DIMENSION,),
    "price": (C.PRICE_MISMATCH,), "pricing": (C.PRICE_MISMATCH,), "rate": (C.PRICE_MISMATCH,),
    "unbilled": (C.MISSING_INVOICE,), "uninvoiced": (C.MISSING_INVOICE,), "leakage": (C.MISSING_INVOICE,),
    "invoiced": (C.MISSING_INVOICE,),
    "late": (C.TIMING_DIFFERENCE,), "timing": (C.TIMING_DIFFERENCE,), "cutoff": (C.TIMING_DIFFERENCE,),
    "accrual": (C.TIMING_DIFFERENCE,),
    "dropped": (C.DROPPED_METERING,), "unprocessed": (C.DROPPED_METERING,), "gap": (C.DROPPED_METERING,),
    "missing": (C.DROPPED_METERING, C.MISSING_INVOICE),
}


def is_our_rule(rule: str | None) -> bool:
    """Whether `rule` is one of our reconciliation's rules (else another tool raised the exception)."""
    return (rule or "") in OUR_RULES


def name_words(rule: str | None, kind: str | None) -> list[str]:
    """The lower-case words of a rule and kind name (split on -, _, spaces and camelCase)."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", f"{rule or ''} {kind or ''}")
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def hinted_categories(rule: str | None, kind: str | None) -> tuple[Category, ...]:
    """The categories the words of another tool's rule and kind hint at, in the order they appear."""
    found = [c for w in name_words(rule, kind) for c in KIND_WORDS.get(w, ())]
    return tuple(dict.fromkeys(found))


def candidate_categories(rule: str | None, kind: str | None) -> tuple[Category, ...]:
    """Candidate categories for a difference, most likely first.

    A rule of ours has its table entry. Another tool's rule (an imported exception) has the
    categories its names hint at, then `other`: a hint, never a decision (the offline backend
    reads imported cases from their evidence; see `agent.llm.offline.inference`)."""
    found = CANDIDATES.get((rule or "", kind)) or CANDIDATES.get((rule or "", None))
    if found:
        return found
    if is_our_rule(rule):
        return (C.OTHER,)
    return (*(c for c in hinted_categories(rule, kind) if c is not C.OTHER), C.OTHER)


@dataclass(frozen=True)
class Resolution:
    """The usual resolution of a category: action, who we escalate to, who owns it."""

    action: Action
    escalate_to: EscalateTo
    owner: str


A, E = Action, EscalateTo
USUAL: dict[Category, Resolution] = {
    # Found at reconciliation, the hours are past AWS's 6-hour window: bill under the contract
    # (or write off when small — see `resolution_for`), and fix the pipeline.
    C.DROPPED_METERING: Resolution(A.REBILL, E.INTERNAL, "billing-ops"),
    C.DUPLICATE_METERING: Resolution(A.REFUND_REQUEST, E.PARTNER, "billing-ops"),
    C.REJECTED_METERING: Resolution(A.FIX_METERING_MAPPING, E.INTERNAL, "metering-platform"),
    C.WRONG_DIMENSION: Resolution(A.FIX_METERING_MAPPING, E.INTERNAL, "metering-platform"),
    C.PRICE_MISMATCH: Resolution(A.REQUEST_PARTNER_CORRECTION, E.PARTNER, "deal-desk"),
    # Usage after cancellation is served but unbilled: bill it directly with the customer's agreement.
    C.ENTITLEMENT_MISMATCH: Resolution(A.REBILL, E.CUSTOMER, "billing-ops"),
    C.LISTING_FEE_MISMATCH: Resolution(A.REQUEST_PARTNER_CORRECTION, E.PARTNER, "billing-ops"),
    C.RESELLER_MARGIN_MISMATCH: Resolution(A.REQUEST_PARTNER_CORRECTION, E.PARTNER, "channel-ops"),
    C.SHORT_PAYMENT: Resolution(A.CHASE_PAYMENT, E.PARTNER, "collections"),
    C.FORGIVEN_CHARGE: Resolution(A.WRITE_OFF, E.INTERNAL, "billing-ops"),
    C.DISBURSEMENT_FAILURE: Resolution(A.REQUEST_PARTNER_CORRECTION, E.PARTNER, "treasury"),
    C.MISSING_INVOICE: Resolution(A.REQUEST_PARTNER_CORRECTION, E.PARTNER, "billing-ops"),
    C.CREDIT_MISAPPLIED: Resolution(A.CREDIT_NOTE, E.CUSTOMER, "billing-ops"),
    C.REFUND_DISCREPANCY: Resolution(A.REQUEST_PARTNER_CORRECTION, E.PARTNER, "billing-ops"),
    C.TAX_DISCREPANCY: Resolution(A.INVESTIGATE, E.INTERNAL, "tax"),
    C.FX_VARIANCE: Resolution(A.BOOK_FX_VARIANCE, E.INTERNAL, "accounting"),
    C.TIMING_DIFFERENCE: Resolution(A.NO_ACTION_TIMING, E.NONE, "billing-ops"),
    C.CHANNEL_CONFLICT: Resolution(A.CREDIT_NOTE, E.CUSTOMER, "billing-ops"),
    C.OTHER: Resolution(A.INVESTIGATE, E.INTERNAL, "billing-ops"),
}

# Actions that make sense for a category (a draft or a reviewer's edit outside these fails verify).
COMPATIBLE: dict[Category, frozenset[Action]] = {
    C.DROPPED_METERING: frozenset({A.RESEND_METERING, A.REBILL, A.WRITE_OFF, A.INVESTIGATE}),
    C.DUPLICATE_METERING: frozenset({A.REFUND_REQUEST, A.REQUEST_PARTNER_CORRECTION, A.INVESTIGATE}),
    C.REJECTED_METERING: frozenset({A.FIX_METERING_MAPPING, A.RESEND_METERING, A.INVESTIGATE}),
    C.WRONG_DIMENSION: frozenset({A.FIX_METERING_MAPPING, A.REFUND_REQUEST, A.REBILL, A.INVESTIGATE}),
    C.PRICE_MISMATCH: frozenset({A.REQUEST_PARTNER_CORRECTION, A.REFUND_REQUEST, A.CREDIT_NOTE, A.INVESTIGATE}),
    C.ENTITLEMENT_MISMATCH: frozenset({A.CREDIT_NOTE, A.REBILL, A.INVESTIGATE}),
    C.LISTING_FEE_MISMATCH: frozenset({A.REQUEST_PARTNER_CORRECTION, A.INVESTIGATE}),
    C.RESELLER_MARGIN_MISMATCH: frozenset({A.REQUEST_PARTNER_CORRECTION, A.INVESTIGATE}),
    C.SHORT_PAYMENT: frozenset({A.CHASE_PAYMENT, A.WRITE_OFF, A.REQUEST_PARTNER_CORRECTION, A.INVESTIGATE}),
    C.FORGIVEN_CHARGE: frozenset({A.WRITE_OFF, A.REQUEST_PARTNER_CORRECTION, A.INVESTIGATE}),
    C.DISBURSEMENT_FAILURE: frozenset({A.REQUEST_PARTNER_CORRECTION, A.INVESTIGATE}),
    C.MISSING_INVOICE: frozenset({A.REQUEST_PARTNER_CORRECTION, A.REBILL, A.INVESTIGATE}),
    C.CREDIT_MISAPPLIED: frozenset({A.CREDIT_NOTE, A.REBILL, A.INVESTIGATE}),
    C.REFUND_DISCREPANCY: frozenset({A.REQUEST_PARTNER_CORRECTION, A.REFUND_REQUEST, A.INVESTIGATE}),
    C.TAX_DISCREPANCY: frozenset({A.INVESTIGATE, A.REQUEST_PARTNER_CORRECTION, A.CREDIT_NOTE}),
    C.FX_VARIANCE: frozenset({A.BOOK_FX_VARIANCE, A.INVESTIGATE}),
    C.TIMING_DIFFERENCE: frozenset({A.NO_ACTION_TIMING, A.INVESTIGATE}),
    C.CHANNEL_CONFLICT: frozenset({A.CREDIT_NOTE, A.INVESTIGATE}),
    C.OTHER: frozenset(Action),
}


def usual_resolution(category: Category, channel: str | None = None) -> Resolution:
    """The usual resolution, adjusted for the channel (direct sales have no partner to ask)."""
    res = USUAL[category]
    if channel == "direct":
        if category is C.SHORT_PAYMENT:
            return Resolution(A.CHASE_PAYMENT, E.CUSTOMER, "collections")
        if category is C.MISSING_INVOICE:
            # The missing invoice runbook: generate it and send it, noting the delay in the cover
            # email, so the draft is that email to the customer.
            return Resolution(A.REBILL, E.CUSTOMER, "billing-ops")
    return res


def resolution_for(category: Category, channel: str | None, *, amount_usd: Decimal | None = None,
                   write_off_below_usd: Decimal = Decimal("250"), window_open: bool = False,
                   bank_fee_noted: bool = False, bank_fee_below_usd: Decimal = Decimal("50"),
                   payer_known: bool = True, refused_while_subscribed: bool = False) -> Resolution:
    """The resolution of one case: the usual one, refined by what its evidence says.

    - dropped metering: resend while AWS's window is open; past it, write off a small loss and
      bill a larger one under the contract (dropped metering runbook, decision steps 1 and 3);
    - a direct customer's small shortfall that its remittance says bank charges took is written
      off (short payment runbook, decision step 3: bank fee within tolerance);
    - money from an unknown payer is investigated internally; a known customer is asked;
    - metering AWS refused as CustomerNotSubscribed while the agreement is in force and unchanged:
      the customer is asked to re-subscribe and the held usage is resent (rejected metering
      runbook: "customer not subscribed by mistake"; a replaced agreement is a stale mapping)."""
    res = usual_resolution(category, channel)
    if category is C.DROPPED_METERING:
        if window_open:
            return Resolution(A.RESEND_METERING, E.INTERNAL, "metering-platform")
        if amount_usd is not None and amount_usd < write_off_below_usd:
            return Resolution(A.WRITE_OFF, E.INTERNAL, "billing-ops")
    if (category is C.SHORT_PAYMENT and channel == "direct" and bank_fee_noted and amount_usd is not None
            and amount_usd < bank_fee_below_usd):
        return Resolution(A.WRITE_OFF, E.INTERNAL, "billing-ops")
    if category is C.REJECTED_METERING and refused_while_subscribed:
        return Resolution(A.RESEND_METERING, E.CUSTOMER, "account-management")
    if category is C.OTHER and payer_known:
        return Resolution(A.INVESTIGATE, E.CUSTOMER, "billing-ops")
    return res


def is_compatible(category: Category, action: Action) -> bool:
    """Whether `action` is a sensible resolution of `category`."""
    return action in COMPATIBLE[category]
