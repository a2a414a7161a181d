"""Structured outputs of the agent: the classification and the draft.

These models are the contract between the graph and every backend: the `openai` backend
uses them as the Structured Outputs schema, the `offline` backend builds them from evidence
rules, and the evals score them. Keep field names stable; add, don't rename.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Category(StrEnum):
    """The discrepancy taxonomy of DOMAIN.md, plus `other`."""

    DROPPED_METERING = "dropped_metering"
    DUPLICATE_METERING = "duplicate_metering"
    REJECTED_METERING = "rejected_metering"
    WRONG_DIMENSION = "wrong_dimension"
    PRICE_MISMATCH = "price_mismatch"
    ENTITLEMENT_MISMATCH = "entitlement_mismatch"
    LISTING_FEE_MISMATCH = "listing_fee_mismatch"
    RESELLER_MARGIN_MISMATCH = "reseller_margin_mismatch"
    SHORT_PAYMENT = "short_payment"
    FORGIVEN_CHARGE = "forgiven_charge"
    DISBURSEMENT_FAILURE = "disbursement_failure"
    MISSING_INVOICE = "missing_invoice"
    CREDIT_MISAPPLIED = "credit_misapplied"
    REFUND_DISCREPANCY = "refund_discrepancy"
    TAX_DISCREPANCY = "tax_discrepancy"
    FX_VARIANCE = "fx_variance"
    TIMING_DIFFERENCE = "timing_difference"
    CHANNEL_CONFLICT = "channel_conflict"
    OTHER = "other"


class Action(StrEnum):
    """What the resolution does."""

    RESEND_METERING = "resend_metering"
    FIX_METERING_MAPPING = "fix_metering_mapping"
    REFUND_REQUEST = "refund_request"
    REQUEST_PARTNER_CORRECTION = "request_partner_correction"
    CREDIT_NOTE = "credit_note"
    REBILL = "rebill"
    WRITE_OFF = "write_off"
    CHASE_PAYMENT = "chase_payment"
    BOOK_FX_VARIANCE = "book_fx_variance"
    NO_ACTION_TIMING = "no_action_timing"
    INVESTIGATE = "investigate"


class EscalateTo(StrEnum):
    PARTNER = "partner"
    CUSTOMER = "customer"
    INTERNAL = "internal"
    NONE = "none"


class Classification(BaseModel):
    """The agent's decision on one exception, with what it relied on."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    confidence: float = Field(ge=0.0, le=1.0, description="Probability that the category is right.")
    rationale: str = Field(description="Two to four sentences citing the evidence that decided it.")
    evidence_ids: list[str] = Field(description="Ids of the evidence records relied on.")
    sop_chunk_ids: list[str] = Field(description="Ids of the SOP passages relied on.")
    action: Action
    escalate_to: EscalateTo
    owner: str = Field(description="Team or role that owns the resolution, e.g. 'billing-ops'.")


class DraftText(BaseModel):
    """The part of a draft an LLM writes: addressing is never left to a model."""

    model_config = ConfigDict(extra="forbid")

    subject: str
    body: str
    attachments: list[str] = Field(default_factory=list, description="Evidence record ids to attach.")
    sop_steps: list[str] = Field(default_factory=list, description="SOP chunk ids whose steps it follows.")


class Draft(DraftText):
    """An internal resolution note or an email to the partner or customer."""

    kind: Literal["internal_resolution", "email"]
    to: str = Field(description="A role or alias from configuration, never a free-typed address.")

    @property
    def text(self) -> DraftText:
        """What the writer wrote, without the addressing."""
        return DraftText.model_validate(self.model_dump(include=set(DraftText.model_fields)))
