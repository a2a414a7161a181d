"""The AWS Marketplace listing-fee schedule.

DOMAIN.md "Fees, payouts, tax, refunds" (AWS, from 5 Jan 2024, on pre-tax contract value):
public SaaS 3 %, server products 20 %; private offers < $1M 3 %, $1M–<$10M 2 %, ≥ $10M 1.5 %;
all renewals 1.5 %; CPPO +0.5 %; professional services 2.5 %.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.fees import FeeScheduleError, expected_listing_fee_rate


def rate(**kwargs: object) -> Decimal:
    base: dict[str, object] = {
        "is_private_offer": True,
        "total_contract_value": None,
        "is_renewal": False,
        "is_cppo": False,
    }
    base.update(kwargs)
    return expected_listing_fee_rate(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tcv", "expected"),
    [
        (Decimal("0"), Decimal("0.03")),
        (Decimal("999999.99"), Decimal("0.03")),
        (Decimal("1000000"), Decimal("0.02")),  # the $1M edge belongs to the 2 % tier
        (Decimal("9999999.99"), Decimal("0.02")),
        (Decimal("10000000"), Decimal("0.015")),  # ≥ $10M is 1.5 %
        (Decimal("250000000"), Decimal("0.015")),
    ],
)
def test_private_offer_tiers_by_contract_value(tcv: Decimal, expected: Decimal) -> None:
    """Private offers: < $1M 3 %, $1M–<$10M 2 %, ≥ $10M 1.5 % (DOMAIN.md, AWS schedule)."""
    assert rate(total_contract_value=tcv) == expected


def test_public_saas_and_server_rates_ignore_contract_value() -> None:
    """Public SaaS 3 %, server products 20 % (DOMAIN.md)."""
    assert rate(is_private_offer=False, total_contract_value=Decimal("50000000")) == Decimal("0.03")
    assert rate(is_private_offer=False, product_type="server") == Decimal("0.20")


def test_every_renewal_is_one_and_a_half_percent() -> None:
    """All renewals 1.5 %, whatever the tier (DOMAIN.md)."""
    assert rate(is_renewal=True, total_contract_value=Decimal("500000")) == Decimal("0.015")
    assert rate(is_renewal=True) == Decimal("0.015")  # no contract value needed
    assert rate(is_renewal=True, is_private_offer=False) == Decimal("0.015")


def test_cppo_adds_half_a_point_and_is_a_private_offer() -> None:
    """CPPO +0.5 % on top of the applicable rate (DOMAIN.md); a CPPO is always a private offer."""
    assert rate(is_cppo=True, total_contract_value=Decimal("200000")) == Decimal("0.035")
    assert rate(is_cppo=True, total_contract_value=Decimal("2000000")) == Decimal("0.025")
    assert rate(is_cppo=True, is_renewal=True) == Decimal("0.020")
    assert rate(
        is_cppo=True, is_private_offer=False, total_contract_value=Decimal("20000000")
    ) == Decimal("0.020")


def test_professional_services_flat_rate() -> None:
    """Professional services 2.5 % (DOMAIN.md)."""
    assert rate(product_type="professional_services") == Decimal("0.025")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs total_contract_value"),
        ({"total_contract_value": Decimal("-1")}, "negative"),
        ({"total_contract_value": 1e6}, "float"),
        (
            {"product_type": "hardware", "total_contract_value": Decimal("1")},
            "unknown product_type",
        ),
    ],
)
def test_bad_terms_are_refused_with_a_reason(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(FeeScheduleError, match=message):
        rate(**kwargs)
