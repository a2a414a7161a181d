"""Contracts and private offers: prices per dimension, discounts, listing fees by AWS's schedule,
reseller (CPPO) wholesale terms, tax treatment, validity; and the AWS agreement rows behind them."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from billing.fees import expected_listing_fee_rate
from billing.scenarios.calendar import add_months, first_day, last_day, parse_period
from billing.scenarios.catalog import RESELLERS
from billing.scenarios.fx import BASE_USD_PER_UNIT
from billing.scenarios.ids import IdMaker
from billing.scenarios.model import Account, AgreementRow, Contract, Product

_RATE_PLACES = Decimal("0.000001")
_HOURS_PER_MONTH = 730
MARKETPLACE_FEE = {"azure_marketplace": Decimal("0.03"), "gcp_marketplace": Decimal("0.03")}


def local_price(usd_price: Decimal, currency: str) -> Decimal:
    """A USD list price expressed in `currency` at the reference rate (6 decimal places)."""
    if currency == "USD":
        return usd_price
    return (usd_price / BASE_USD_PER_UNIT[currency]).quantize(_RATE_PLACES, rounding=ROUND_HALF_UP)


def discounted(price: Decimal, discount: Decimal) -> Decimal:
    """`price` less a fractional discount, to 6 decimal places."""
    return (price * (1 - discount)).quantize(_RATE_PLACES, rounding=ROUND_HALF_UP)


def monthly_estimate_usd(account: Account, product: Product) -> Decimal:
    """What the customer should spend in a month at list price (sizes the contract value)."""
    total = sum(
        (Decimal(repr(d.hourly_scale * account.size)) * d.list_price for d in product.dimensions),
        Decimal(0),
    )
    return (total * _HOURS_PER_MONTH).quantize(Decimal(1))


def _add_months(day: date, months: int) -> date:
    year, month = parse_period(f"{day.year:04d}-{day.month:02d}")
    shifted = first_day(add_months(f"{year:04d}-{month:02d}", months))
    return shifted.replace(day=min(day.day, 28))


def _dates(
    rng: random.Random, periods: list[str], term_months: int | None, newcomer: bool
) -> tuple[date, date | None]:
    """Start and end of a contract that covers the scenario (or begins inside it, for newcomers)."""
    if newcomer and len(periods) > 1:
        start_period = periods[rng.randrange(1, len(periods))]
        start = first_day(start_period).replace(day=rng.choice((1, 1, 1, 8, 15)))
    else:
        start = _add_months(first_day(periods[0]), -rng.randint(1, 18)).replace(
            day=rng.choice((1, 1, 5, 12, 20))
        )
    if term_months is None:
        return start, None
    end = _add_months(start, term_months) - timedelta(days=1)
    while end < last_day(periods[-1]):
        end = _add_months(end + timedelta(days=1), 12) - timedelta(days=1)
    return start, end


def build_contract(
    *,
    index: int,
    account: Account,
    product: Product,
    channel: str,
    rng: random.Random,
    ids: IdMaker,
    periods: list[str],
    shared_ids: dict[str, str],
) -> Contract:
    """A contract for `account` on `product` through `channel` (`aws_marketplace:public`/`:private`...)."""
    public = channel == "aws_marketplace:public"
    base_channel = channel.split(":")[0]
    private = channel in ("aws_marketplace:private", "reseller")
    if (
        base_channel == "direct"
        or channel == "aws_marketplace:private"
        and account.country.currency != "USD"
        and rng.random() < 0.7
    ):
        currency = account.country.currency
    else:
        currency = "USD"  # public offers, CPPO and the other marketplaces bill in USD here
    discount: Decimal | None = None
    if private or base_channel == "direct":
        discount = Decimal(
            rng.choice(("0.05", "0.08", "0.10", "0.12", "0.15", "0.18", "0.20", "0.25"))
        )
    if base_channel == "reseller":
        discount = None  # the reseller gets the wholesale discount instead
    rates = {
        d.key: discounted(local_price(d.list_price, currency), discount or Decimal(0))
        for d in product.dimensions
    }
    term = (
        None
        if public or base_channel in ("azure_marketplace", "gcp_marketplace")
        else rng.choice((12, 12, 24, 36))
    )
    newcomer = rng.random() < 0.1
    start, end = _dates(rng, periods, term, newcomer)
    is_renewal = (private or base_channel == "direct") and not newcomer and rng.random() < 0.25
    tcv_usd: Decimal | None = None
    tcv: Decimal | None = None
    commitment: Decimal | None = None
    if term is not None:
        tcv_usd = (
            monthly_estimate_usd(account, product)
            * term
            * Decimal(repr(round(rng.uniform(0.9, 1.3), 2)))
        )
        tcv_usd = tcv_usd.quantize(Decimal(1000))
        tcv = (
            (tcv_usd / (BASE_USD_PER_UNIT.get(currency, Decimal(1)))).quantize(Decimal(1000))
            if currency != "USD"
            else tcv_usd
        )
        if rng.random() < 0.3:
            commitment = (tcv * Decimal("0.75")).quantize(Decimal(1000))
    contract = Contract(
        contract_key=f"CT-{account.account_key}-{product.slug.upper()}",
        account=account,
        product=product,
        channel=base_channel,
        currency=currency,
        start_date=start,
        end_date=end,
        is_private_offer=private,
        is_renewal=is_renewal,
        rates=rates,
        tax_party="seller",
        tax_rate=account.country.tax_rate,
        payment_terms_days=30 if base_channel != "direct" else rng.choice((30, 30, 45, 60)),
        total_contract_value=tcv,
        discount_pct=discount,
        commitment_amount=commitment,
    )
    _set_channel_terms(contract, channel, rng, ids, shared_ids, tcv_usd)
    return contract


def _set_channel_terms(
    contract: Contract,
    channel: str,
    rng: random.Random,
    ids: IdMaker,
    shared_ids: dict[str, str],
    tcv_usd: Decimal | None,
) -> None:
    base = contract.channel
    if base in ("aws_marketplace", "reseller"):
        if channel == "aws_marketplace:public":
            contract.offer_id = _shared(
                shared_ids, f"offer:{contract.product.product_code}", ids.offer_id
            )
        else:
            contract.offer_id = ids.offer_id()
        contract.agreement_id = ids.agreement_id()
        if base == "reseller":
            name, wholesale = RESELLERS[rng.randrange(len(RESELLERS))]
            contract.reseller_name = name
            contract.reseller_account_id = _shared(
                shared_ids, f"reseller:{name}", ids.aws_account_id
            )
            contract.wholesale_discount_pct = wholesale
        contract.listing_fee_rate = expected_listing_fee_rate(
            is_private_offer=contract.is_private_offer,
            total_contract_value=tcv_usd,
            is_renewal=contract.is_renewal,
            is_cppo=base == "reseller",
        )
        # AWS is the marketplace facilitator for most buyers; some sellers collect tax themselves.
        if contract.tax_rate == 0:
            contract.tax_party = "none"
        else:
            contract.tax_party = "aws" if rng.random() < 0.8 else "seller"
    elif base in MARKETPLACE_FEE:
        contract.listing_fee_rate = MARKETPLACE_FEE[base]
        contract.tax_party, contract.tax_rate = "none", Decimal(0)
    elif contract.tax_rate == 0:
        contract.tax_party = "none"


def _shared(registry: dict[str, str], key: str, make: Callable[[], str]) -> str:
    # One id per public offer / per reseller within a scenario, made on first use.
    if key not in registry:
        registry[key] = make()
    return registry[key]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def build_agreements(
    contracts: list[Contract], seller_account_id: str, rng: random.Random, ids: IdMaker
) -> list[AgreementRow]:
    """The AWS agreement rows of the AWS-billed contracts (renewals also show the expired predecessor)."""
    rows: list[AgreementRow] = []
    for c in contracts:
        if (
            not c.is_aws
            or c.agreement_id is None
            or c.offer_id is None
            or c.account.aws_account_id is None
        ):
            continue
        proposer = (
            c.reseller_account_id if c.is_cppo and c.reseller_account_id else seller_account_id
        )
        start = _midnight(c.start_date)
        preceding = None
        if c.is_renewal:
            preceding = ids.agreement_id()
            rows.append(
                AgreementRow(
                    agreement_id=preceding,
                    offer_id=ids.offer_id(),
                    proposer_account_id=proposer,
                    acceptor_account_id=c.account.aws_account_id,
                    start_time=_midnight(_add_months(c.start_date, -12)),
                    end_time=start,
                    acceptance_time=_midnight(_add_months(c.start_date, -12))
                    - timedelta(hours=rng.randint(2, 90)),
                    intent="NEW",
                    preceding_agreement_id=None,
                    status="EXPIRED",
                    currency_code=c.currency,
                    estimated_agreement_value=c.total_contract_value,
                )
            )
        rows.append(
            AgreementRow(
                agreement_id=c.agreement_id,
                offer_id=c.offer_id,
                proposer_account_id=proposer,
                acceptor_account_id=c.account.aws_account_id,
                start_time=start,
                end_time=_midnight(c.end_date + timedelta(days=1)) if c.end_date else None,
                acceptance_time=start
                - timedelta(hours=rng.randint(1, 72), minutes=rng.randint(0, 59)),
                intent="RENEW" if c.is_renewal else "NEW",
                preceding_agreement_id=preceding,
                status="ACTIVE",
                currency_code=c.currency,
                estimated_agreement_value=c.total_contract_value,
            )
        )
    return rows
