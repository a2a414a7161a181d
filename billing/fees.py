"""AWS Marketplace listing-fee schedule (from 5 January 2024), as a fraction of pre-tax
contract value.

Source: DOMAIN.md "Fees, payouts, tax, refunds": public SaaS 3 %, server products 20 %;
private offers < $1M 3 %, $1M–<$10M 2 %, ≥ $10M 1.5 %; all renewals 1.5 %; Channel
Partner Private Offers (CPPO) +0.5 %; professional services 2.5 %.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, get_args

ProductType = Literal["saas", "server", "professional_services"]
PRODUCT_TYPES: tuple[str, ...] = get_args(ProductType)

PUBLIC_RATES: dict[str, Decimal] = {"saas": Decimal("0.03"), "server": Decimal("0.20")}
PROFESSIONAL_SERVICES_RATE = Decimal("0.025")
RENEWAL_RATE = Decimal("0.015")
CPPO_SURCHARGE = Decimal("0.005")

# Private-offer tiers on total contract value in USD: (lower bound inclusive, rate), highest first.
PRIVATE_OFFER_TIERS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal("10000000"), Decimal("0.015")),
    (Decimal("1000000"), Decimal("0.02")),
    (Decimal("0"), Decimal("0.03")),
)


class FeeScheduleError(ValueError):
    """The offer's terms are not enough (or not valid) to look up a listing fee."""


def expected_listing_fee_rate(
    *,
    is_private_offer: bool,
    total_contract_value: Decimal | None,
    is_renewal: bool,
    is_cppo: bool,
    product_type: str = "saas",
) -> Decimal:
    """The listing fee AWS's schedule sets for an offer, as a fraction (``Decimal("0.03")`` = 3 %).

    `total_contract_value` is the pre-tax value in USD; it is required for a private offer
    that is not a renewal (the tier depends on it) and ignored otherwise. A CPPO is a
    private offer by definition, so `is_cppo` implies the private-offer schedule; it adds
    0.5 percentage points to whatever rate applies.
    """
    if product_type not in PRODUCT_TYPES:
        raise FeeScheduleError(
            f"unknown product_type {product_type!r}; expected one of {PRODUCT_TYPES}"
        )
    base = _base_rate(
        is_private_offer=is_private_offer or is_cppo,
        total_contract_value=total_contract_value,
        is_renewal=is_renewal,
        product_type=product_type,
    )
    return base + CPPO_SURCHARGE if is_cppo else base


def _base_rate(
    *,
    is_private_offer: bool,
    total_contract_value: Decimal | None,
    is_renewal: bool,
    product_type: str,
) -> Decimal:
    # Professional services have one flat rate; the schedule lists no tier or renewal rate for them.
    if product_type == "professional_services":
        return PROFESSIONAL_SERVICES_RATE
    if is_renewal:
        return RENEWAL_RATE
    if not is_private_offer:
        return PUBLIC_RATES[product_type]
    return private_offer_tier_rate(total_contract_value)


def private_offer_tier_rate(total_contract_value: Decimal | None) -> Decimal:
    """The private-offer tier rate for a pre-tax total contract value in USD."""
    if total_contract_value is None:
        raise FeeScheduleError(
            "a private offer needs total_contract_value to find its listing-fee tier"
        )
    if isinstance(
        total_contract_value, float
    ):  # a float has already lost the exact value at a tier edge
        raise FeeScheduleError(
            f"total_contract_value {total_contract_value!r} is a float; pass a Decimal"
        )
    value = Decimal(total_contract_value)
    if value < 0:
        raise FeeScheduleError(f"total_contract_value {value} is negative")
    return next(rate for floor, rate in PRIVATE_OFFER_TIERS if value >= floor)
