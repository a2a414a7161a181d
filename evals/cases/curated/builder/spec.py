"""The hand-written case spec: what one curated case holds, validated before anything is built.

A spec file (`specs/*.yaml`) is a YAML list of cases. Amounts, rates and quantities are
written as quoted decimal strings (a YAML float would already have lost the exact value). The
usage and money parts are in `spec_usage.py` and `spec_money.py`; reading the files in
`loading.py`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from billing.bundles.labels import ExpectedLabels
from billing.bundles.types import Currency, Dec
from evals.cases.curated.builder.spec_base import (
    HoursField,
    Spec,
    SpecError,
    parse_days,
    parse_hour,
    parse_hours,
)
from evals.cases.curated.builder.spec_money import (
    MarketplaceInvoiceSpec,
    MoneySpec,
    PayoutSpec,
    RawEventSpec,
)
from evals.cases.curated.builder.spec_usage import MeterRule, PartnerRule, UsageSpec

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


class MessageSpec(Spec):
    id: str
    sender: str
    role: Literal["partner", "customer", "internal"]
    received: datetime
    subject: str = ""
    body: str
    channel: str | None = None
    linked: bool = True


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


__all__ = [
    "AccountSpec",
    "AgreementSpec",
    "CaseSpec",
    "ContractSpec",
    "HoursField",
    "ImportedException",
    "MarketplaceInvoiceSpec",
    "MeterRule",
    "MoneySpec",
    "PartnerRule",
    "PayoutSpec",
    "RawEventSpec",
    "ReconciledException",
    "Spec",
    "SpecError",
    "UsageSpec",
    "parse_days",
    "parse_hour",
    "parse_hours",
]
