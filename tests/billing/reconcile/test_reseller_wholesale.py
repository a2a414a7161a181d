"""Rule `reseller_wholesale`: CPPO reseller cost vs our price less the authorised wholesale
discount.

DOMAIN.md: CPPO — the ISV authorises a reseller at a wholesale price or % discount, the reseller
marks up; RESALE rows with charge_side BUYING are the reseller's cost. Fixture — AWS's worked
example: a reseller's payout of 19.80 = 100 − 80 (cost paid to the ISV) − 0.20 (listing fee):
our price 100.00 with a 20 % wholesale discount is a cost of 80.00.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine

from billing.db import transaction
from billing.reconcile.rules import reseller_wholesale as rule

from .factories import (
    add_billing_event,
    add_partner_usage,
    make_account,
    make_contract,
    make_product,
)
from .money_factories import check_rerun_lifecycle, run_rule, set_event


def _cppo(engine: Engine, *, cost: str = "80.00", included: str | None = None) -> None:
    """50,000 api_calls at our 0.002 = 100.00, authorised to the reseller at 20 % off."""
    with transaction(engine) as s:
        account, product = make_account(s), make_product(s)
        contract = make_contract(
            s,
            account,
            product,
            channel="reseller",
            reseller_name="Northwind Cloud",
            reseller_account_id="444455556666",
            wholesale_discount_pct="0.20",
            rates={"api_calls": "0.002", "storage_gb": "0.10"},
        )
        if included is not None:
            contract.rates[0].included_quantity = Decimal(included)
        add_partner_usage(
            s,
            account,
            product,
            "api_calls",
            {date(2026, 10, 1): "20000", date(2026, 10, 31): "30000"},
        )
        add_partner_usage(
            s, account, product, "api_calls", {date(2026, 11, 1): "99999"}
        )  # November: not October's
        add_billing_event(
            s,
            account,
            product,
            billing_event_id="be-resale",
            amount=cost,
            charge_variant="RESALE",
            charge_side="BUYING",
            invoice_variant="RESALE",
            broker_id="444455556666",
        )
        add_billing_event(
            s,
            account,
            product,
            billing_event_id="be-selling",
            amount="100.00",
            charge_variant="RESALE",
            charge_side="SELLING",
        )


def test_cost_at_the_authorised_discount_raises_nothing(engine: Engine) -> None:
    """100 × (1 − 0.20) = 80: the worked example's cost paid to the ISV."""
    _cppo(engine)
    assert run_rule(engine, rule).exceptions == []


def test_cost_above_the_authorised_wholesale_is_raised(engine: Engine) -> None:
    _cppo(engine, cost="85.00")
    exc = run_rule(engine, rule).only()
    assert (
        exc.kind == "wholesale_price_mismatch"
        and exc.channel == "reseller"
        and exc.period == "2026-10"
    )
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal(80),
        Decimal(85),
        Decimal(5),
    )
    assert exc.currency == "USD"
    assert exc.record_refs == {"billing_events": ["be-resale"], "contracts": ["C-ACME-0001"]}
    assert exc.details["list_price"] == "100.00" and exc.details["authorised_discount_pct"] == "0.2"
    assert (
        exc.details["implied_discount_pct"] == "0.1500"
        and exc.details["reseller_name"] == "Northwind Cloud"
    )


def test_included_quantity_is_not_charged(engine: Engine) -> None:
    """10,000 calls included: 40,000 × 0.002 = 80.00 list, 64.00 wholesale."""
    _cppo(engine, included="10000")
    exc = run_rule(engine, rule).only()
    assert (exc.expected_amount, exc.observed_amount) == (Decimal(64), Decimal(80))


def test_rerun_is_idempotent_changed_data_updates_and_a_fix_closes(engine: Engine) -> None:
    _cppo(engine, cost="85.00")
    assert run_rule(engine, rule).stats.opened == 1

    def set_cost(amount: str) -> None:
        set_event(engine, "be-resale", amount=Decimal(amount))

    check_rerun_lifecycle(engine, rule, set_cost, changed="90.00", shows=Decimal(90), fixed="80.00")
