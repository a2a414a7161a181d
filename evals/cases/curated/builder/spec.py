"""The hand-written case spec: what one curated case holds, validated before anything is built.

A spec file (`specs/*.yaml`) is a YAML list of cases. Amounts, rates and quantities are
written as quoted decimal strings (a YAML float would already have lost the exact value);
hours as ``2026-10-14T02`` and hour ranges as ``2026-10-14T02..2026-10-14T06`` (both ends
included). An error names the file, the case and the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from billing.bundles.labels import ExpectedLabels
from billing.bundles.types import Currency, Dec


class SpecError(ValueError):
    """A spec file that cannot be built: names the file, the case and the field."""


class Spec(BaseModel):
    """Every spec object is closed: a misspelt field is an error."""

    model_config = ConfigDict(extra="forbid")


def parse_hour(text: str) -> datetime:
    """``2026-10-14T02`` (or a full ISO timestamp) as an aware UTC datetime at the hour."""
    value = text.strip()
    if len(value) == 13:
        value += ":00"
    moment = datetime.fromisoformat(value)  # Python 3.11 reads a trailing Z
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def parse_hours(text: str) -> list[datetime]:
    """``A..B`` (both ends included) or a single hour, as the list of hours."""
    if ".." not in text:
        return [parse_hour(text)]
    start, end = (parse_hour(part) for part in text.split("..", 1))
    if end < start:
        raise ValueError(f"hour range {text!r} ends before it starts")
    return [
        start + timedelta(hours=n) for n in range(int((end - start).total_seconds() // 3600) + 1)
    ]


def parse_days(text: str) -> list[date]:
    """``2026-10-01..2026-10-14`` (both ends included) or a single day."""
    if ".." not in text:
        return [date.fromisoformat(text.strip())]
    start, end = (date.fromisoformat(part.strip()) for part in text.split("..", 1))
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


class HoursField(Spec):
    """Base for specs naming hours; checks the range parses."""

    hours: str

    @field_validator("hours")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_hours(value)
        return value


# -- parties and terms ---------------------------------------------------------------------


class AccountSpec(Spec):
    key: str
    name: str
    aws_account_id: str | None = None
    aws_customer_identifier: str | None = None
    azure_subscription_id: str | None = None
    gcp_billing_account_id: str | None = None


class DimSpec(Spec):
    key: str
    unit: str
    description: str | None = None


class ProductSpec(Spec):
    code: str
    mp_id: str | None = None
    title: str
    dims: list[DimSpec]


class RateSpec(Spec):
    price: Dec
    included: Dec = Decimal(0)


class ContractSpec(Spec):
    key: str
    product: str
    channel: Literal[
        "aws_marketplace", "azure_marketplace", "gcp_marketplace", "reseller", "direct"
    ]
    currency: Currency = "USD"
    start: date
    end: date | None = None
    offer_id: str | None = None
    agreement_id: str | None = None
    private: bool = True
    renewal: bool = False
    fee_rate: Dec | None = None
    tcv: Dec | None = None
    discount_pct: Dec | None = None
    commitment: Dec | None = None
    terms_days: int = 30
    reseller_name: str | None = None
    reseller_account_id: str | None = None
    wholesale_discount_pct: Dec | None = None
    tax_party: Literal["aws", "seller", "none"] = "aws"
    rates: dict[str, Dec | RateSpec] = Field(default_factory=dict)

    def rate(self, dim: str) -> RateSpec | None:
        value = self.rates.get(dim)
        if value is None or isinstance(value, RateSpec):
            return value
        return RateSpec(price=value)


class AgreementSpec(Spec):
    id: str
    offer_id: str | None = None
    start: datetime
    end: datetime | None = None
    accepted: datetime | None = None
    intent: str = "NEW"
    preceding: str | None = None
    status: str = "ACTIVE"
    currency: Currency = "USD"
    value: Dec | None = None
    acceptor: str | None = Field(
        default=None, description="AWS account id; the account's own by default."
    )
    of_account: bool = True


# -- usage, metering and the partner's feed --------------------------------------------------


class UsageDimSpec(Spec):
    per_hour: Dec
    weekend_per_hour: Dec | None = None
    curve: Literal["business", "flat", "batch", "apac"] = "business"


class UsageSet(HoursField):
    """Our usage in these hours is exactly `quantity` (per hour)."""

    dim: str
    quantity: Dec


class MeterRule(HoursField):
    """What happened to the metering records of these hours (default: Success at the usage hour)."""

    dim: str | None = None
    status: Literal[
        "Success", "Unprocessed", "CustomerNotSubscribed", "DuplicateRecord", "missing"
    ] = "Success"
    send_as_dim: str | None = Field(
        default=None, description="The dimension key the record was sent under."
    )
    also_as: Literal["account_id", "identifier"] | None = Field(
        default=None,
        description="Also sent (and accepted) under the buyer's other customer reference.",
    )
    copy_as_dim: str | None = Field(
        default=None, description="Also sent (and accepted) under this other dimension key."
    )
    submitted_delay_minutes: int = 5


class PartnerRule(Spec):
    """How the partner's daily feed departs from what AWS accepted."""

    dim: str | None = None
    days: str | None = None
    rate: Dec | None = None
    offer_id: str | None = None
    agreement_id: str | None = None
    next_day_hours: str | None = Field(
        default=None, description="Accepted hours the feed reports on the next day."
    )
    description: str | None = None
    drop: bool = False

    @model_validator(mode="after")
    def _scoped(self) -> PartnerRule:
        if self.days is None and self.next_day_hours is None:
            raise ValueError("a partner rule needs `days` or `next_day_hours`")
        return self


class UsageSpec(Spec):
    product: str
    dims: dict[str, UsageDimSpec]
    set: list[UsageSet] = Field(default_factory=list)
    metering: list[MeterRule] = Field(default_factory=list)
    partner: list[PartnerRule] = Field(default_factory=list)
    send_as: Literal["identifier", "account_id"] = "identifier"
    metered: bool = Field(
        default=True, description="False: a channel without AWS metering (Azure, Google, direct)."
    )
    partner_feed: bool = True
    region: str = "us-east-1"
    start: date | None = None
    end: date | None = Field(default=None, description="Last day with usage (inclusive).")


# -- money ---------------------------------------------------------------------------------


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


# -- the case ------------------------------------------------------------------------------


class MessageSpec(Spec):
    id: str
    sender: str
    role: Literal["partner", "customer", "internal"]
    received: datetime
    subject: str = ""
    body: str
    channel: str | None = None
    linked: bool = True


# (Dates of events are `at`, never `on`: YAML 1.1 reads a bare `on` as the boolean true.)


class ReconciledException(Spec):
    """The exception is raised by the real rule `rule` over the case's records."""

    rule: str
    kind: str
    dim: str | None = None
    product: str | None = None
    key_contains: str | None = None


class ImportedException(Spec):
    """An exception imported from another reconciliation system, as that system wrote it."""

    natural_key: str
    rule: str
    kind: str
    channel: str
    product: str | None = None
    dim: str | None = None
    currency: Currency | None = None
    expected: Dec | None = None
    observed: Dec | None = None
    expected_quantity: Dec | None = None
    observed_quantity: Dec | None = None
    refs: dict[str, list[str]] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    description: str


class HistorySpec(Spec):
    """An earlier exception of the account and how it ended."""

    natural_key: str
    rule: str
    kind: str
    period: str
    status: str = "resolved"
    channel: str = "aws_marketplace"
    product: str | None = None
    dim: str | None = None
    currency: Currency | None = "USD"
    delta: Dec | None = None
    description: str = ""
    close_reason: str | None = None
    decided_by: Literal["review", "agent"] | None = "review"
    category: str | None = None
    action: str | None = None
    escalate_to: str | None = None
    decision: str | None = "approve"


class CaseSpec(Spec):
    """One curated case."""

    id: str = Field(pattern=r"^c[0-9]{2}-[a-z0-9-]+$")
    title: str
    hard: str = Field(description="What makes the case hard, for the README.")
    period: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    run_at: datetime
    account: AccountSpec | None = None
    products: list[ProductSpec] = Field(default_factory=list)
    contracts: list[ContractSpec] = Field(default_factory=list)
    agreements: list[AgreementSpec] = Field(default_factory=list)
    usage: list[UsageSpec] = Field(default_factory=list)
    money: MoneySpec = Field(default_factory=MoneySpec)
    fx: dict[str, dict[date, Dec]] = Field(
        default_factory=dict, description="Anchor USD rates per currency."
    )
    messages: list[MessageSpec] = Field(default_factory=list)
    history: list[HistorySpec] = Field(default_factory=list)
    reconciled: ReconciledException | None = None
    imported: ImportedException | None = None
    expected: ExpectedLabels

    @model_validator(mode="after")
    def _one_source(self) -> CaseSpec:
        if (self.reconciled is None) == (self.imported is None):
            raise ValueError(
                "a case has exactly one of `reconciled` (raised by a rule) or `imported`"
            )
        if (
            self.expected.why is None
            or self.expected.route is None
            or self.expected.action is None
            or self.expected.escalate_to is None
        ):
            raise ValueError("expected labels need category, route, action, escalate_to and why")
        return self

    def contract(self, key: str) -> ContractSpec:
        for contract in self.contracts:
            if contract.key == key:
                return contract
        raise SpecError(f"case {self.id}: no contract {key!r}")

    def product(self, code: str) -> ProductSpec:
        for product in self.products:
            if product.code == code:
                return product
        raise SpecError(f"case {self.id}: no product {code!r}")


CATALOG = "_catalog.yaml"


def load_catalog(folder: Path) -> dict[str, dict[str, Any]]:
    """The products every case may name by code alone (one listing, one id, in every case)."""
    path = folder / CATALOG
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {code: {"code": code, **values} for code, values in (data.get("products") or {}).items()}


def _resolve_products(raw: dict[str, Any], catalog: dict[str, dict[str, Any]], where: str) -> None:
    products = raw.get("products") or []
    for i, item in enumerate(products):
        if isinstance(item, str):
            if item not in catalog:
                raise SpecError(f"{where}: products[{i}]: {item!r} is not in {CATALOG}")
            products[i] = catalog[item]


def load_specs(folder: Path) -> list[CaseSpec]:
    """Every case of every ``*.yaml`` file in `folder` (but `_catalog.yaml`), validated; ids unique.

    A case may name a product of `_catalog.yaml` by its code alone."""
    specs: list[CaseSpec] = []
    seen: dict[str, str] = {}
    catalog = load_catalog(folder)
    for path in sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_")):
        try:
            documents = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as exc:
            raise SpecError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(documents, list):
            raise SpecError(f"{path}: a spec file is a YAML list of cases")
        for index, raw in enumerate(documents):
            label = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
            if isinstance(raw, dict):
                _resolve_products(raw, catalog, f"{path}: case {label}")
            try:
                spec = CaseSpec.model_validate(raw)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
                raise SpecError(f"{path}: case {label}: {problems}") from None
            if spec.id in seen:
                raise SpecError(f"{path}: case id {spec.id} already used in {seen[spec.id]}")
            seen[spec.id] = str(path)
            specs.append(spec)
    return specs
