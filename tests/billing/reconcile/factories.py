"""Plain factory functions for reconciliation tests: ORM rows with sensible defaults.

Import them relatively from a test module of this folder (`from .factories import ...`).
Every function adds to the session and flushes, so the returned row has its id; none
commits — the caller's `transaction(engine)` does. Money and quantities are `Decimal`
(pass strings), timestamps timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from billing.db import transaction
from billing.models import (
    Account,
    Agreement,
    BillingEvent,
    Contract,
    ContractRate,
    Dimension,
    Discrepancy,
    ExceptionStatus,
    Invoice,
    InvoiceLine,
    MeteringResult,
    PartnerUsage,
    Product,
    UsageRecord,
)
from billing.reconcile.config import ReconcileSettings, using
from billing.reconcile.findings import ApplyStats, apply_findings


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """A UTC timestamp (AWS cuts periods at 00:00 UTC)."""
    return datetime(year, month, day, hour, tzinfo=UTC)


def dec(value: str | int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def make_account(
    session: Session,
    account_key: str = "ACME-0001",
    *,
    name: str | None = None,
    aws_account_id: str | None = "111122223333",
    aws_customer_identifier: str | None = "cust-acme-0001",
) -> Account:
    """A customer with its AWS ids (12-digit account id and SaaS CustomerIdentifier)."""
    account = Account(account_key=account_key, name=name or account_key.title(),
                      aws_account_id=aws_account_id, aws_customer_identifier=aws_customer_identifier)
    session.add(account)
    session.flush()
    return account


def make_product(
    session: Session,
    product_code: str = "7x1k2m9q4w8e3r6t5y0u1i2o3",
    *,
    marketplace_product_id: str | None = "prod-abc123xyz",
    title: str = "Stream Analytics",
    dimensions: Mapping[str, str] | None = None,
) -> Product:
    """A listing with its pricing dimensions ({key: unit}); default: api_calls and storage_gb."""
    product = Product(product_code=product_code, marketplace_product_id=marketplace_product_id, title=title)
    for key, unit in (dimensions or {"api_calls": "requests", "storage_gb": "GB-hours"}).items():
        product.dimensions.append(Dimension(key=key, unit=unit))
    session.add(product)
    session.flush()
    return product


def make_contract(
    session: Session,
    account: Account,
    product: Product,
    *,
    contract_key: str = "C-ACME-0001",
    channel: str = "aws_marketplace",
    rates: Mapping[str, str | Decimal] | None = None,
    currency: str = "USD",
    start_date: date = date(2026, 1, 1),
    end_date: date | None = None,
    agreement_id: str | None = "agmt-acme0001aaaaaaaaaaaaaa",
    offer_id: str | None = "offer-acme0001aaaaaaaaaaaa",
    listing_fee_rate: str | None = "0.03",
    total_contract_value: str | None = None,
    is_private_offer: bool = True,
    is_renewal: bool = False,
    tax_party: str = "aws",
    payment_terms_days: int = 30,
    reseller_name: str | None = None,
    reseller_account_id: str | None = None,
    wholesale_discount_pct: str | None = None,
) -> Contract:
    """A contract / private offer with one rate per dimension ({dimension_key: unit_price})."""
    contract = Contract(
        contract_key=contract_key, account_id=account.id, product_id=product.id, channel=channel,
        offer_id=offer_id, agreement_id=agreement_id, currency=currency, start_date=start_date,
        end_date=end_date, is_private_offer=is_private_offer, is_renewal=is_renewal,
        listing_fee_rate=None if listing_fee_rate is None else dec(listing_fee_rate),
        total_contract_value=None if total_contract_value is None else dec(total_contract_value),
        payment_terms_days=payment_terms_days, tax_party=tax_party, reseller_name=reseller_name,
        reseller_account_id=reseller_account_id,
        wholesale_discount_pct=None if wholesale_discount_pct is None else dec(wholesale_discount_pct),
    )
    for key, price in (rates or {"api_calls": "0.002", "storage_gb": "0.10"}).items():
        contract.rates.append(ContractRate(dimension_key=key, unit_price=dec(price)))
    session.add(contract)
    session.flush()
    return contract


def make_agreement(
    session: Session,
    account: Account,
    *,
    agreement_id: str = "agmt-acme0001aaaaaaaaaaaaaa",
    offer_id: str | None = "offer-acme0001aaaaaaaaaaaa",
    status: str = "ACTIVE",
    start_time: datetime = utc(2026, 1, 1),
    end_time: datetime | None = utc(2027, 1, 1),
    intent: str = "NEW",
    preceding_agreement_id: str | None = None,
    currency_code: str = "USD",
) -> Agreement:
    """The partner's agreement row (AWS `agreement` feed), accepted by `account`."""
    agreement = Agreement(
        agreement_id=agreement_id, offer_id=offer_id, account_id=account.id,
        proposer_account_id="999988887777", acceptor_account_id=account.aws_account_id,
        start_time=start_time, end_time=end_time, acceptance_time=start_time, intent=intent,
        preceding_agreement_id=preceding_agreement_id, status=status, currency_code=currency_code,
    )
    session.add(agreement)
    session.flush()
    return agreement


def add_usage(
    session: Session,
    account: Account,
    product: Product,
    dimension_key: str,
    hourly: Mapping[datetime, str | int | Decimal],
) -> list[UsageRecord]:
    """Our metered usage, one row per hour ({usage_hour: quantity})."""
    rows = [
        UsageRecord(account_id=account.id, product_code=product.product_code, dimension_key=dimension_key,
                    usage_hour=hour, quantity=dec(qty),
                    source_record_id=f"u-{account.account_key}-{dimension_key}-{hour:%Y%m%d%H}")
        for hour, qty in hourly.items()
    ]
    session.add_all(rows)
    session.flush()
    return rows


def add_partner_usage(
    session: Session,
    account: Account,
    product: Product,
    dimension_key: str,
    daily: Mapping[date, str | int | Decimal],
    *,
    rate: str | Decimal | None = "0.002",
    currency: str = "USD",
    region: str = "us-east-1",
    offer_id: str = "offer-acme0001aaaaaaaaaaaa",
    agreement_id: str | None = "agmt-acme0001aaaaaaaaaaaaaa",
) -> list[PartnerUsage]:
    """Rows of AWS's dailyusagefeed_v1 for one account × dimension ({usage_date: quantity})."""
    rows = []
    for day, qty in daily.items():
        quantity = dec(qty)
        unit_rate = None if rate is None else dec(rate)
        rows.append(PartnerUsage(
            usage_feed_id=f"uf-{account.aws_account_id}-{dimension_key}-{day:%Y%m%d}-{region}",
            usage_date=day, product_id=product.marketplace_product_id, agreement_id=agreement_id,
            end_user_account_id=account.aws_account_id, payer_account_id=account.aws_account_id,
            region=region, dimension_key=dimension_key, usage_unit="units", usage_quantity=quantity,
            pricing_currency=currency, usage_rate_per_unit_in_pricing_currency=unit_rate,
            estimated_revenue_in_pricing_currency=None if unit_rate is None else quantity * unit_rate,
            offer_id=offer_id, catalog="AWSMarketplace",
        ))
    session.add_all(rows)
    session.flush()
    return rows


def add_metering(
    session: Session,
    account: Account,
    product: Product,
    dimension_key: str,
    hourly: Mapping[datetime, str | int | Decimal],
    *,
    status: str = "Success",
    by_account_id: bool = False,
) -> list[MeteringResult]:
    """BatchMeterUsage results ({timestamp: quantity}) sent with CustomerIdentifier, or the account id."""
    ref = account.aws_account_id if by_account_id else account.aws_customer_identifier
    assert ref is not None, "the account has no AWS id to meter against"
    rows = [
        MeteringResult(
            product_code=product.product_code, customer_ref=ref,
            customer_identifier=None if by_account_id else ref,
            customer_aws_account_id=ref if by_account_id else None,
            dimension=dimension_key, timestamp=ts, quantity=dec(qty), status=status,
            metering_record_id=None if status == "Unprocessed" else f"mr-{dimension_key}-{ts:%Y%m%d%H}-{status}",
            submitted_at=ts + timedelta(minutes=5),
        )
        for ts, qty in hourly.items()
    ]
    session.add_all(rows)
    session.flush()
    return rows


def add_billing_event(
    session: Session,
    account: Account | None,
    product: Product | None,
    *,
    billing_event_id: str,
    amount: str | Decimal,
    transaction_type: str = "SELLER_REV_SHARE",
    action: str = "INVOICED",
    currency: str = "USD",
    invoice_id: str | None = "inv-aws-0001",
    invoice_date: date | None = date(2026, 11, 1),
    payment_due_date: date | None = date(2026, 12, 1),
    usage_period_start_date: date | None = date(2026, 10, 1),
    usage_period_end_date: date | None = date(2026, 10, 31),
    balance_impacting: bool | None = None,
    **columns: object,
) -> BillingEvent:
    """One `billing_event` feed row (AWS column names); extra columns by keyword."""
    event = BillingEvent(
        billing_event_id=billing_event_id, from_account_id=account.aws_account_id if account else None,
        to_account_id="999988887777", end_user_account_id=account.aws_account_id if account else None,
        product_id=product.marketplace_product_id if product else None, action=action,
        transaction_type=transaction_type, amount=dec(amount), currency=currency,
        balance_impacting=(transaction_type != "AWS_TAX_SHARE") if balance_impacting is None else balance_impacting,
        invoice_date=invoice_date, payment_due_date=payment_due_date,
        usage_period_start_date=usage_period_start_date, usage_period_end_date=usage_period_end_date,
        invoice_id=invoice_id, **columns,
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class Line:
    """An invoice line for `add_invoice`."""

    product_code: str | None
    dimension_key: str | None
    quantity: str
    unit_price: str
    tax_amount: str = "0"


def add_invoice(
    session: Session,
    account: Account,
    *,
    invoice_number: str = "INV-2026-10-0001",
    contract: Contract | None = None,
    channel: str = "direct",
    period: str = "2026-10",
    currency: str = "USD",
    issue_date: date = date(2026, 11, 1),
    due_date: date = date(2026, 12, 1),
    lines: Iterable[Line] = (),
    partner_invoice_id: str | None = None,
    status: str = "issued",
) -> Invoice:
    """An invoice with its lines; subtotal, tax and total are the lines' sums."""
    invoice = Invoice(invoice_number=invoice_number, account_id=account.id,
                      contract_id=contract.id if contract else None, channel=channel, period=period,
                      currency=currency, issue_date=issue_date, due_date=due_date, subtotal=Decimal(0),
                      tax=Decimal(0), total=Decimal(0), status=status, partner_invoice_id=partner_invoice_id)
    for number, line in enumerate(lines, start=1):
        amount = (dec(line.quantity) * dec(line.unit_price)).quantize(Decimal("0.01"))
        invoice.lines.append(InvoiceLine(line_no=number, product_code=line.product_code,
                                         dimension_key=line.dimension_key, quantity=dec(line.quantity),
                                         unit_price=dec(line.unit_price), amount=amount))
        invoice.subtotal += amount
        invoice.tax += dec(line.tax_amount)
    invoice.total = invoice.subtotal + invoice.tax
    session.add(invoice)
    session.flush()
    return invoice


@dataclass
class AwsMonth:
    """A clean AWS Marketplace month: one account, one product, one contract, its agreement,
    usage on two days (first hours of the month and last hours), mirrored by the partner's
    daily feed at the contracted rate and by Success metering for every hour with usage."""

    account: Account
    product: Product
    contract: Contract
    agreement: Agreement
    usage: dict[datetime, Decimal]  # api_calls per hour
    period: str = "2026-10"


# api_calls per hour: the first two hours of October 1st and the last two hours of October 31st.
CLEAN_HOURS: dict[datetime, Decimal] = {
    utc(2026, 10, 1, 0): Decimal("100"),
    utc(2026, 10, 1, 1): Decimal("50"),
    utc(2026, 10, 1, 2): Decimal("0"),  # idle hour: AWS recommends sending 0, we store it
    utc(2026, 10, 31, 22): Decimal("70"),
    utc(2026, 10, 31, 23): Decimal("30"),
}


def aws_month(session: Session, *, with_metering: bool = True, with_partner_usage: bool = True) -> AwsMonth:
    """Build the clean scenario of `AwsMonth` (October 2026, USD, api_calls at 0.002)."""
    account = make_account(session)
    product = make_product(session)
    contract = make_contract(session, account, product)
    agreement = make_agreement(session, account)
    usage = dict(CLEAN_HOURS)
    add_usage(session, account, product, "api_calls", usage)
    if with_partner_usage:
        add_partner_usage(session, account, product, "api_calls",
                          {date(2026, 10, 1): "150", date(2026, 10, 31): "100"})
    if with_metering:
        add_metering(session, account, product, "api_calls", {h: q for h, q in usage.items() if q > 0})
    return AwsMonth(account=account, product=product, contract=contract, agreement=agreement, usage=usage)


# Tests run as if on this date unless they say otherwise: October 2026 is long closed.
AS_OF = date(2027, 1, 15)


@dataclass
class Run:
    """What one rule run changed, and the rule's exceptions afterwards (detached rows)."""

    stats: ApplyStats
    exceptions: list[Discrepancy]

    def by_kind(self, kind: str) -> list[Discrepancy]:
        return [e for e in self.exceptions if e.kind == kind]

    @property
    def open(self) -> list[Discrepancy]:
        return [e for e in self.exceptions if e.status != ExceptionStatus.CLOSED]


def reconcile_once(engine: Engine, rule: ModuleType, period: str = "2026-10", *, as_of: date = AS_OF,
                   **settings: Any) -> Run:
    """Run one rule module for `period` in its own transaction, as of `as_of`, like a nightly run."""
    with using(ReconcileSettings(as_of=as_of, **settings)), transaction(engine) as session:
        stats = apply_findings(session, rule=rule.RULE, period=period, findings=list(rule.find(session, period)))
    with transaction(engine) as session:
        rows = list(session.scalars(select(Discrepancy).where(Discrepancy.rule == rule.RULE)
                                    .order_by(Discrepancy.natural_key)))
        session.expunge_all()
    return Run(stats=stats, exceptions=rows)
