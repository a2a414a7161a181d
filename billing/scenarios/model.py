"""The in-memory world a scenario is built in: parties, contracts, usage arrays, partner-side
records, ledgers. Plain dataclasses: the simulation mutates them stage by stage, the writers
turn them into files."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from billing.scenarios.calendar import add_months, first_day, hours_in, last_day, period_start
from billing.scenarios.catalog import Country, DimensionTemplate

AWS_CHANNELS = ("aws_marketplace", "reseller")  # both billed and metered through AWS Marketplace


@dataclass
class Product:
    product_code: str
    marketplace_product_id: str
    title: str
    slug: str
    dimensions: tuple[DimensionTemplate, ...]

    def dimension(self, key: str) -> DimensionTemplate:
        return next(d for d in self.dimensions if d.key == key)


@dataclass
class Account:
    account_key: str
    name: str
    country: Country
    size: float  # multiplies every dimension's hourly scale
    night_idle: bool  # no usage at night and at weekends
    contact_domain: str
    aws_account_id: str | None = None
    aws_customer_identifier: str | None = None
    meters_by_account_id: bool = False  # newer CustomerAWSAccountId + LicenseArn form
    license_arn: str | None = None
    azure_subscription_id: str | None = None
    gcp_billing_account_id: str | None = None


@dataclass
class Contract:
    contract_key: str
    account: Account
    product: Product
    channel: str
    currency: str
    start_date: date
    end_date: date | None
    is_private_offer: bool
    is_renewal: bool
    rates: dict[str, Decimal]
    tax_party: str  # aws | seller | none
    tax_rate: Decimal
    payment_terms_days: int = 30
    offer_id: str | None = None
    agreement_id: str | None = None
    listing_fee_rate: Decimal | None = None
    total_contract_value: Decimal | None = None
    discount_pct: Decimal | None = None
    commitment_amount: Decimal | None = None
    reseller_name: str | None = None
    reseller_account_id: str | None = None
    wholesale_discount_pct: Decimal | None = None

    @property
    def is_aws(self) -> bool:
        return self.channel in AWS_CHANNELS

    @property
    def is_cppo(self) -> bool:
        return self.channel == "reseller"

    def active_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)

    def active_in(self, period: str) -> bool:
        return self.start_date <= last_day(period) and (
            self.end_date is None or self.end_date >= first_day(period)
        )


@dataclass
class AgreementRow:
    """A row of the AWS agreement feed."""

    agreement_id: str
    offer_id: str
    proposer_account_id: str
    acceptor_account_id: str
    start_time: datetime
    end_time: datetime | None
    acceptance_time: datetime
    intent: str
    preceding_agreement_id: str | None
    status: str
    currency_code: str
    estimated_agreement_value: Decimal | None


@dataclass
class MeterOverride:
    """What happened to one hourly record on its way to AWS Metering, when not plain Success."""

    status: str  # Omitted (never sent) | Unprocessed | CustomerNotSubscribed
    note: str = ""


@dataclass
class ExtraMeterRecord:
    """A record sent in addition to the hourly one (e.g. a retry answered DuplicateRecord)."""

    contract_key: str
    dimension: str
    hour: int
    quantity: int
    status: str


@dataclass
class Line:
    """A priced line of an invoice (ours or the marketplace's)."""

    dimension_key: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    tax_amount: Decimal = Decimal(0)
    line_item_id: str = ""
    description: str = ""


@dataclass
class CashPlan:
    """How and when the money of one invoice arrives; faults change it before rows are written."""

    pay_date: date
    paid_fraction: Decimal = Decimal(1)  # direct: share of the total the customer paid
    undisbursed_lines: set[str] = field(
        default_factory=set
    )  # marketplace: line ids AWS did not disburse
    disburse: bool = True
    failed: bool = False
    payout_delta: Decimal = Decimal(0)  # payout amount minus Σ of its rows (0 when sound)
    receipt: bool = True
    fx_factor: Decimal = Decimal(1)  # 1 = AWS converted at the day's rate


@dataclass
class MarketplaceInvoice:
    """One AWS buyer invoice for a contract and month, with its listing-fee invoice and events."""

    contract: Contract
    period: str
    invoice_id: str
    fee_invoice_id: str
    invoice_date: date
    due_date: date
    lines: list[Line]
    fee_rate: Decimal
    events: list[dict[str, Any]] = field(
        default_factory=list
    )  # INVOICED/FORGIVEN rows, feed columns
    ledger_number: str = ""  # our invoice number mirroring it
    cash: CashPlan | None = None
    issued: bool = True  # False: AWS never invoiced it (missing_invoice)
    forgiven: bool = False

    @property
    def gross(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal(0))


@dataclass
class LedgerInvoice:
    """An invoice in our own ledger: direct invoices, and our record of marketplace invoices."""

    invoice_number: str
    account: Account
    contract: Contract
    channel: str
    period: str
    currency: str
    issue_date: date
    due_date: date
    lines: list[Line]
    partner_invoice_id: str | None = None
    cash: CashPlan | None = None

    @property
    def subtotal(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal(0))

    @property
    def tax(self) -> Decimal:
        return sum((ln.tax_amount for ln in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax


class Timeline:
    """Hour indexes of the scenario: hour 0 is 00:00 UTC on the first day of the first period.

    Moments and days of every hour are computed once; simulation asks for them millions of times."""

    def __init__(self, periods: list[str]) -> None:
        self.periods = list(periods)
        self.origin = period_start(self.periods[0])
        self.n_hours = sum(hours_in(p) for p in self.periods)
        self._moments = [self.origin + timedelta(hours=h) for h in range(self.n_hours)]
        self._days = [m.date() for m in self._moments]
        self.stamps = [
            m.strftime("%Y-%m-%dT%H:%M:%SZ") for m in self._moments
        ]  # iso_hour of each hour
        self._ranges: dict[str, range] = {}
        start = 0
        for p in self.periods:
            self._ranges[p] = range(start, start + hours_in(p))
            start += hours_in(p)

    def hour_range(self, period: str) -> range:
        if period in self._ranges:
            return self._ranges[period]
        start = int((period_start(period) - self.origin).total_seconds()) // 3600
        return range(start, start + hours_in(period))

    def moment(self, hour: int) -> datetime:
        if 0 <= hour < self.n_hours:
            return self._moments[hour]
        return self.origin + timedelta(hours=hour)

    def day_of(self, hour: int) -> date:
        if 0 <= hour < self.n_hours:
            return self._days[hour]
        return self.moment(hour).date()

    def hour_of(self, moment: datetime) -> int:
        return int((moment - self.origin).total_seconds()) // 3600

    def next_period(self, period: str) -> str | None:
        following = add_months(period, 1)
        return following if following in self._ranges else None


class InvoiceNumbers:
    """Sequential invoice numbers per month: `INV-202610-00042`."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def __call__(self, period: str) -> str:
        n = self._next.get(period, 1)
        self._next[period] = n + 1
        return f"INV-{period.replace('-', '')}-{n:05d}"


def zeros(n: int) -> array[int]:
    """A compact array of n hourly quantities."""
    return array("q", bytes(8 * n))
