"""The triage vocabulary: discrepancy categories, actions, escalation targets and routes.

One definition for the domain room: the generator's ground truth, the case bundles' expected
labels and the evals speak it. The agent (`agent/schemas.py`) spells the same strings as enums
because `billing/` may not import the agent; a test checks that the two agree.
"""

from __future__ import annotations

from typing import Literal, get_args

#: DOMAIN.md's taxonomy: every category a runbook (SOP) can be written for.
RunbookCategory = Literal[
    "dropped_metering",
    "duplicate_metering",
    "rejected_metering",
    "wrong_dimension",
    "price_mismatch",
    "entitlement_mismatch",
    "listing_fee_mismatch",
    "reseller_margin_mismatch",
    "short_payment",
    "forgiven_charge",
    "disbursement_failure",
    "missing_invoice",
    "credit_misapplied",
    "refund_discrepancy",
    "tax_discrepancy",
    "fx_variance",
    "timing_difference",
    "channel_conflict",
]
#: What a case can be labelled: the taxonomy, and `other` for what fits none of it.
Category = Literal[RunbookCategory, "other"]
Action = Literal[
    "resend_metering",
    "fix_metering_mapping",
    "refund_request",
    "request_partner_correction",
    "credit_note",
    "rebill",
    "write_off",
    "chase_payment",
    "book_fx_variance",
    "no_action_timing",
    "investigate",
]
EscalateTo = Literal["partner", "customer", "internal", "none"]
Route = Literal["auto", "human"]

RUNBOOK_CATEGORIES: tuple[str, ...] = get_args(RunbookCategory)
CATEGORIES: tuple[str, ...] = get_args(Category)
ACTIONS: tuple[str, ...] = get_args(Action)
ESCALATE_TO: tuple[str, ...] = get_args(EscalateTo)
ROUTES: tuple[str, ...] = get_args(Route)
