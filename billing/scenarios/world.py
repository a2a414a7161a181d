"""Everything one scenario holds while it is being built, before it is written to files."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billing.scenarios.fx import FxTable
from billing.scenarios.ids import IdMaker
from billing.scenarios.model import (
    Account,
    AgreementRow,
    Contract,
    ExtraMeterRecord,
    InvoiceNumbers,
    LedgerInvoice,
    MarketplaceInvoice,
    MeterOverride,
    Product,
    Timeline,
)

UsageKey = tuple[str, str]  # (contract_key, dimension_key)


@dataclass
class World:
    """The scenario under construction. Stages fill it in order; fault injectors edit it."""

    seed: int
    timeline: Timeline
    as_of: date  # the run date the feeds are complete up to
    ids: IdMaker
    seller_account_id: str
    aws_billing_account_id: str  # AWS's own account on the feed's from/to columns
    fx: FxTable
    invoice_numbers: InvoiceNumbers = field(default_factory=lambda: InvoiceNumbers())
    products: list[Product] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    agreements: list[AgreementRow] = field(default_factory=list)
    # Hourly quantities per contract × dimension: ours, and what the partner counted.
    usage: dict[UsageKey, array[int]] = field(default_factory=dict)
    partner: dict[UsageKey, array[int]] = field(default_factory=dict)
    # Hours the partner attributes to another day (timing); None = outside the delivered feed.
    partner_shift: dict[UsageKey, dict[int, date | None]] = field(default_factory=dict)
    daily: dict[UsageKey, dict[date, int]] = field(
        default_factory=dict
    )  # the partner's feed, per day
    meter_overrides: dict[tuple[str, str, int], MeterOverride] = field(default_factory=dict)
    meter_quantity: dict[tuple[str, str, int], int] = field(default_factory=dict)
    extra_meter: list[ExtraMeterRecord] = field(default_factory=list)
    billed_rates: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    marketplace_invoices: list[MarketplaceInvoice] = field(default_factory=list)
    ledger: list[LedgerInvoice] = field(default_factory=list)
    credit_notes: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    extra_payments: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def contract(self, key: str) -> Contract:
        return next(c for c in self.contracts if c.contract_key == key)

    def active_contracts(self, period: str) -> list[Contract]:
        return [
            c
            for c in self.contracts
            if c.active_in(period)
            and any((c.contract_key, d.key) in self.usage for d in c.product.dimensions)
        ]

    def agreement_in_force(self, contract: Contract, until: datetime) -> str | None:
        """The agreement a partner feed names for `contract` on a row that ends at `until` (a
        day, a month): the contract's own, or the REPLACE agreement that superseded it before
        then (the feeds follow the buyer's agreement; our contract may still name the old one,
        as a stale mapping does)."""
        current = contract.agreement_id
        seen = {current}
        while current is not None:
            successor = next((a for a in self.agreements if a.preceding_agreement_id == current
                              and a.intent == "REPLACE" and a.start_time < until), None)
            if successor is None or successor.agreement_id in seen:
                break
            current = successor.agreement_id
            seen.add(current)
        return current

    def billed_rate(self, contract: Contract, dimension: str, period: str) -> Decimal:
        """The rate the partner bills: the contract's, unless a fault changed it."""
        return self.billed_rates.get(
            (contract.contract_key, dimension, period), contract.rates[dimension]
        )
