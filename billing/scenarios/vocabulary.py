"""The labels the ground truth speaks: categories, actions, escalation targets and routes.

These strings are agreed with the agent (`agent/schemas.py`) and the evals; `billing/` may not
import the agent, so the vocabulary is spelled out here as `Literal` types.
"""

from __future__ import annotations

from typing import Literal, get_args

Category = Literal[
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
    "other",
]
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

CATEGORIES: tuple[str, ...] = get_args(Category)
ACTIONS: tuple[str, ...] = get_args(Action)
ESCALATE_TO: tuple[str, ...] = get_args(EscalateTo)
