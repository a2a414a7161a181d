"""The money part of a case spec: marketplace invoices and what happened to them, payouts, our own
invoices, cash, credit notes and refund requests, and raw feed rows.

Dates of events are `at`, never `on`: YAML 1.1 reads a bare `on` as the boolean true.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from billing.bundles.types import Currency, Dec
from evals.cases.curated.builder.spec_base import Spec


class DisbursedSpec(Spec):
    payout: str
    at: date
    rows: list[Literal["gross", "fee", "seller_tax"]] = Field(
        default_factory=lambda: ["gross", "fee", "seller_tax"]
    )


class ForgivenSpec(Spec):
    at: date
    rows: list[Literal["gross", "fee", "seller_tax"]] = Field(
        default_factory=lambda: ["gross", "fee"]
    )


class ReversalSpec(Spec):
    """A refund or credit on the invoice: amounts as they appear in the feed (signed)."""

    at: date
    gross: Dec
    fee: Dec | None = None
    tax: Dec | None = None
    tax_type: Literal["AWS_TAX_SHARE", "SELLER_TAX_SHARE"] = "AWS_TAX_SHARE"


class MarketplaceInvoiceSpec(Spec):
    invoice_id: str
    contract: str
    invoice_date: date
    due: date | None = None
    usage: str | None = Field(default=None, description="Usage period 'YYYY-MM-DD..YYYY-MM-DD'.")
    gross: Dec | Literal["usage"] = Field(
        description="The SELLER_REV_SHARE amount, or 'usage': what the partner's feed priced in the usage period."
    )
    fee: Dec | None = Field(default=None, description="The AWS_REV_SHARE amount (negative).")
    fee_rate: Dec | None = None
    fee_invoice_id: str | None = Field(
        default=None, description="The seller's listing-fee invoice holding the fee row."
    )
    aws_tax: Dec | None = None
    seller_tax: Dec | None = None
    currency: Currency | None = None
    end_user: str | None = None
    resale_side: Literal["BUYING", "SELLING"] | None = None
    collected_on: date | None = None
    disbursed: DisbursedSpec | None = None
    forgiven: ForgivenSpec | None = None
    refunds: list[ReversalSpec] = Field(default_factory=list)
    credits: list[ReversalSpec] = Field(default_factory=list)
    line_item_id: str | None = None

    @model_validator(mode="after")
    def _one_fee(self) -> MarketplaceInvoiceSpec:
        if self.fee is not None and self.fee_rate is not None:
            raise ValueError("give `fee` or `fee_rate`, not both")
        return self


class OtherBuyer(Spec):
    """Another buyer paid in the same payout (its rows never enter the bundle)."""

    aws_account_id: str
    gross: Dec


class PayoutSpec(Spec):
    alias: str
    at: date
    currency: Currency = "USD"
    bank_trace_id: str | None = None
    amount: Dec | None = Field(
        default=None, description="Payout amount (negative); default: Σ of its rows."
    )
    adjust: Dec = Field(
        default=Decimal(0),
        description="Added to the Σ of its rows (a payout that does not add up).",
    )
    disbursement_currency: Currency | None = None
    disbursement_amount: Dec | None = None
    failed_on: date | None = None
    other_buyers: list[OtherBuyer] = Field(default_factory=list)
    receipt: bool = Field(
        default=True, description="Our bank statement shows it (unless it failed)."
    )
    receipt_amount: Dec | None = None
    reference: str | None = None


class InvoiceLineSpec(Spec):
    product: str | None = None
    dim: str | None = None
    description: str | None = None
    quantity: Dec | Literal["usage"] = Field(
        description="Units billed, or 'usage': our metered usage of the line's product and dimension in the period."
    )
    unit_price: Dec
    amount: Dec | None = None


class InvoiceSpec(Spec):
    number: str
    contract: str | None = None
    channel: Literal[
        "aws_marketplace", "azure_marketplace", "gcp_marketplace", "reseller", "direct"
    ] = "direct"
    period: str
    currency: Currency = "USD"
    issue: date
    due: date
    lines: list[InvoiceLineSpec]
    tax: Dec = Decimal(0)
    status: Literal["issued", "paid", "void"] = "issued"
    partner_invoice_id: str | None = None


class PaymentSpec(Spec):
    id: str
    kind: Literal["customer_payment", "disbursement", "bank_receipt"] = "bank_receipt"
    channel: Literal[
        "aws_marketplace", "azure_marketplace", "gcp_marketplace", "reseller", "direct"
    ] = "direct"
    currency: Currency = "USD"
    amount: Dec
    received: date
    invoice: str | None = None
    bank_trace_id: str | None = None
    payer: str | None = None
    note: str | None = None
    identified: bool = True


class CreditNoteSpec(Spec):
    number: str
    invoice: str | None = None
    currency: Currency = "USD"
    amount: Dec
    issue: date
    reason: str | None = None


class RefundSpec(Spec):
    id: str
    channel: Literal[
        "aws_marketplace", "azure_marketplace", "gcp_marketplace", "reseller", "direct"
    ] = "aws_marketplace"
    partner_invoice_id: str | None = None
    currency: Currency = "USD"
    amount: Dec
    status: Literal["requested", "approved", "rejected"]
    requested: date
    approved: date | None = None
    reason: str | None = None


class RawEventSpec(Spec):
    """A billing event as the feed has it, for rows no invoice macro describes (e.g. a balance adjustment)."""

    role: str
    contract: str
    action: str = "INVOICED"
    transaction_type: str
    amount: Dec
    balance_impacting: bool = True
    invoice_id: str | None = None
    invoice_date: date | None = None
    due: date | None = None
    usage: str | None = None
    action_date: date | None = None
    invoice_variant: str | None = None
    line_item_id: str | None = None


class MoneySpec(Spec):
    seller_account_id: str = "814736250193"
    invoices: list[MarketplaceInvoiceSpec] = Field(default_factory=list)
    events: list[RawEventSpec] = Field(default_factory=list)
    payouts: list[PayoutSpec] = Field(default_factory=list)
    our_invoices: list[InvoiceSpec] = Field(default_factory=list)
    payments: list[PaymentSpec] = Field(default_factory=list)
    credit_notes: list[CreditNoteSpec] = Field(default_factory=list)
    refunds: list[RefundSpec] = Field(default_factory=list)
