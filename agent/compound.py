"""Compound cases: one account and period whose exceptions point to more than one cause.

A single fault often trips several rules (a cancelled agreement shows up as rejected metering
records, missing hours, a usage shortfall and usage without an agreement). So a case is
compound only when the same account, period and product hold an open exception of another
family that *cannot* come from this case's cause — a rate difference beside dropped hours, an
FX difference beside an undisbursed invoice: two things went wrong at once, and fixing one in
isolation can hide or double-count the other. Such cases go to a person, who resolves
them together (month-end close runbook). The signal comes from the account's history as the
tools report it: our own records, never outside text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

#: Rules that one cause commonly trips together.
FAMILIES: dict[str, str] = {
    "usage_vs_partner_usage": "metering",
    "metering_not_accepted": "metering",
    "metering_gaps": "metering",
    "usage_without_agreement": "entitlement",
    "usage_without_invoice": "entitlement",
    "billed_rate_vs_contract": "pricing",
    "channel_overlap": "channel",
    "listing_fee_vs_contract": "fees",
    "reseller_wholesale": "fees",
    "disbursed_vs_invoiced": "cash",
    "disbursement_integrity": "cash",
    "forgiven_charges": "cash",
    "direct_payments": "cash",
    "refunds_vs_approvals": "refunds",
    "credits_vs_credit_notes": "credits",
    "fx_conversion": "fx",
    "tax_treatment": "tax",
}
#: The causes whose evidence each family's rules raise (DOMAIN.md's taxonomy, "evidence that tells it apart").
CAUSES: dict[str, frozenset[str]] = {
    "metering": frozenset({"dropped_metering", "duplicate_metering", "rejected_metering", "wrong_dimension",
                           "timing_difference", "entitlement_mismatch"}),
    "entitlement": frozenset({"entitlement_mismatch", "missing_invoice", "timing_difference"}),
    "pricing": frozenset({"price_mismatch", "entitlement_mismatch"}),
    "channel": frozenset({"channel_conflict"}),
    "fees": frozenset({"listing_fee_mismatch", "reseller_margin_mismatch"}),
    "cash": frozenset({"short_payment", "disbursement_failure", "forgiven_charge", "timing_difference", "other"}),
    "refunds": frozenset({"refund_discrepancy"}),
    "credits": frozenset({"credit_misapplied"}),
    "fx": frozenset({"fx_variance"}),
    "tax": frozenset({"tax_discrepancy"}),
}
_OPEN = {"open", "triaged", "in_review"}


def _family_of_category(category: str) -> str | None:
    """The one family whose rules a cause shows up under (None when several share it, e.g. timing)."""
    families = [name for name, causes in CAUSES.items() if category in causes]
    return families[0] if len(families) == 1 else None


def compound_reasons(exception: dict[str, Any], evidence: dict[str, Any], category: str | None) -> list[str]:
    """Why this case (classified as `category`) is part of a compound one (empty when it stands alone).

    An exception imported from another tool has a rule we do not know: its family is its
    category's. Another open exception of a rule we do not know says nothing of its cause, so
    unless it is the same difference (same rule and kind) it may be a second cause."""
    rule = exception.get("rule") or ""
    family = FAMILIES.get(rule) or (_family_of_category(category) if category else None)
    if category is None or (family is None and rule in FAMILIES):
        return []
    history = evidence.get("get_account_history") or {}
    entries = history.get("entries") or [] if isinstance(history, dict) else []
    others: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("exception_id") == exception.get("id"):
            continue
        if entry.get("period") != exception.get("period") or entry.get("status") not in _OPEN:
            continue
        mine, theirs = exception.get("product_code"), entry.get("product_code")
        if not mine or mine != theirs:  # only differences about the same product add up to one case
            continue
        other = FAMILIES.get(entry.get("rule") or "")
        if other is not None and other != family and category not in CAUSES[other]:
            others.add(f"{entry.get('rule')}/{entry.get('kind')}")
        elif other is None and rule not in FAMILIES \
                and (entry.get("rule"), entry.get("kind")) != (rule, exception.get("kind")):
            others.add(f"{entry.get('rule')}/{entry.get('kind')}")
    if not others:
        return []
    return [f"compound case: the account also has open {', '.join(sorted(others))} for "
            f"{exception.get('period')}; resolve the causes together"]


def problem_amount(exception: dict[str, Any], evidence: dict[str, Any]) -> tuple[Decimal, int]:
    """The amount at stake of the whole problem this case is a slice of, in its currency.

    One rule raising the same difference on several dimensions of one product (a cancelled
    agreement, a mapping bug) is one problem: materiality is judged on the sum of those
    exceptions' |delta|, not on each slice. Returns (sum including this case, slices)."""
    own = exception.get("delta_amount")
    total = abs(Decimal(str(own))) if own not in (None, "") else Decimal(0)
    slices = 1
    history = evidence.get("get_account_history") or {}
    for entry in history.get("entries") or [] if isinstance(history, dict) else []:
        if not isinstance(entry, dict) or entry.get("exception_id") == exception.get("id"):
            continue
        same = all(entry.get(k) == exception.get(k) for k in ("rule", "kind", "period", "product_code", "currency"))
        if same and exception.get("product_code") and entry.get("status") in _OPEN \
                and entry.get("delta_amount") not in (None, ""):
            total += abs(Decimal(str(entry["delta_amount"])))
            slices += 1
    return total, slices
