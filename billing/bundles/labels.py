"""Expected labels a bundle may carry (eval cases, generator ground truth).

The vocabulary is the one agreed between the agent, the generator and the evals; it is
repeated here because the domain room imports nothing of the agent's (a test checks that
both lists agree with `agent.schemas`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CategoryLabel = Literal[
    "dropped_metering", "duplicate_metering", "rejected_metering", "wrong_dimension",
    "price_mismatch", "entitlement_mismatch", "listing_fee_mismatch", "reseller_margin_mismatch",
    "short_payment", "forgiven_charge", "disbursement_failure", "missing_invoice",
    "credit_misapplied", "refund_discrepancy", "tax_discrepancy", "fx_variance",
    "timing_difference", "channel_conflict", "other",
]
ActionLabel = Literal[
    "resend_metering", "fix_metering_mapping", "refund_request", "request_partner_correction",
    "credit_note", "rebill", "write_off", "chase_payment", "book_fx_variance", "no_action_timing",
    "investigate",
]
EscalateLabel = Literal["partner", "customer", "internal", "none"]
RouteLabel = Literal["auto", "human"]


class ExpectedLabels(BaseModel):
    """What a correct triage of this case decides. Never shown to a triage backend."""

    model_config = ConfigDict(extra="forbid")

    category: CategoryLabel
    route: RouteLabel | None = None
    action: ActionLabel | None = None
    escalate_to: EscalateLabel | None = None
    why: str | None = Field(default=None, description="Why this is the right answer, in a sentence or two.")
    second_category: CategoryLabel | None = Field(
        default=None, description="A second cause present in the same case, if any.")
    fault_id: str | None = Field(default=None, description="The generator's fault id, when labels came from it.")
