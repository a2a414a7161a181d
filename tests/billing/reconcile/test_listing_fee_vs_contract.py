"""Rule `listing_fee_vs_contract`: the marketplace's listing fee vs the contracted fee rate.

DOMAIN.md: AWS_REV_SHARE is negative — the listing fee; the schedule (from 5 Jan 2024, on
pre-tax value) is public SaaS 3 %, private offers < $1M 3 %, $1M–<$10M 2 %, ≥ $10M 1.5 %,
renewals 1.5 %, CPPO +0.5 %, charged on a separate listing-fee invoice.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, update

from billing.db import transaction
from billing.models import BillingEvent
from billing.reconcile.rules import listing_fee_vs_contract as rule

from .factories import add_billing_event, make_account, make_contract, make_product
from .money_factories import run_rule


def _invoice(
    engine: Engine,
    *,
    fee: str,
    gross: str = "1000.00",
    listing_fee_rate: str | None = "0.03",
    total_contract_value: str | None = None,
    channel: str = "aws_marketplace",
    separate_fee_invoice: bool = False,
) -> None:
    with transaction(engine) as s:
        account, product = make_account(s), make_product(s)
        make_contract(
            s,
            account,
            product,
            listing_fee_rate=listing_fee_rate,
            channel=channel,
            total_contract_value=total_contract_value,
            reseller_account_id="444455556666" if channel == "reseller" else None,
        )
        add_billing_event(
            s,
            account,
            product,
            billing_event_id="be-gross-1",
            amount=gross,
            agreement_id="agmt-acme0001aaaaaaaaaaaaaa",
        )
        fee_columns = (
            {
                "invoice_id": "inv-fee-0001",
                "buyer_invoice_id": "inv-aws-0001",
                "invoice_variant": "LISTING_FEE",
            }
            if separate_fee_invoice
            else {}
        )
        add_billing_event(
            s,
            account,
            product,
            billing_event_id="be-fee-1",
            amount=fee,
            transaction_type="AWS_REV_SHARE",
            **fee_columns,
        )
        # Another month's invoice, with a wrong fee, must not be raised for October.
        add_billing_event(
            s,
            account,
            product,
            billing_event_id="be-gross-sep",
            amount="500.00",
            invoice_id="inv-aws-0009",
            usage_period_start_date=None,
            invoice_date=None,
            action_date=None,
            usage_period_end_date=None,
        )


def _set_fee(engine: Engine, amount: str) -> None:
    with transaction(engine) as s:
        s.execute(
            update(BillingEvent)
            .where(BillingEvent.billing_event_id == "be-fee-1")
            .values(amount=Decimal(amount))
        )


def test_fee_at_the_contracted_rate_raises_nothing(engine: Engine) -> None:
    """3 % of 1000.00 is 30.00: the contract's rate, nothing to raise."""
    _invoice(engine, fee="-30.00")
    assert run_rule(engine, rule).exceptions == []


def test_fee_above_the_contract_is_raised_with_rates_and_amounts(engine: Engine) -> None:
    """A 5 % fee on a 3 % contract: expected fee 30.00, observed 50.00, delta +20.00 USD."""
    _invoice(engine, fee="-50.00")
    exc = run_rule(engine, rule).only()
    assert exc.kind == "listing_fee_rate_mismatch"
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal(30),
        Decimal(50),
        Decimal(20),
    )
    assert exc.currency == "USD" and exc.channel == "aws_marketplace" and exc.period == "2026-10"
    assert exc.product_code == "7x1k2m9q4w8e3r6t5y0u1i2o3"
    assert exc.record_refs == {
        "billing_events": ["be-fee-1", "be-gross-1"],
        "contracts": ["C-ACME-0001"],
    }
    assert exc.details["observed_rate"] == "0.050000" and exc.details["contracted_rate"] == "0.03"
    assert exc.details["rate_source"] == "contract" and exc.details["is_cppo"] is False


def test_rerun_is_idempotent_changed_data_updates_and_a_fix_closes(engine: Engine) -> None:
    _invoice(engine, fee="-50.00")
    first = run_rule(engine, rule)
    assert first.stats.opened == 1
    again = run_rule(engine, rule)
    assert (again.stats.opened, again.stats.unchanged, len(again.exceptions)) == (0, 1, 1)
    _set_fee(engine, "-40.00")
    changed = run_rule(engine, rule)
    assert changed.stats.updated == 1 and changed.only().observed_amount == Decimal(40)
    _set_fee(engine, "-30.00")
    fixed = run_rule(engine, rule)
    assert fixed.stats.closed == 1 and fixed.open == []
    assert "no longer found" in (fixed.exceptions[0].close_reason or "")


def test_fee_on_a_separate_listing_fee_invoice_is_matched_to_its_buyer_invoice(
    engine: Engine,
) -> None:
    """Since 2024 AWS charges the listing fee on a separate invoice (DOMAIN.md); the fee row
    names the buyer invoice in buyer_invoice_id, so a correct fee raises nothing."""
    _invoice(engine, fee="-30.00", separate_fee_invoice=True)
    assert run_rule(engine, rule).exceptions == []


def test_without_a_contract_rate_the_schedule_decides(engine: Engine) -> None:
    """A $2M private offer is in the 2 % tier (DOMAIN.md); 3 % charged is raised against it."""
    _invoice(engine, fee="-30.00", listing_fee_rate=None, total_contract_value="2000000")
    exc = run_rule(engine, rule).only()
    assert exc.details["rate_source"] == "schedule" and exc.details["contracted_rate"] == "0.02"
    assert (
        exc.expected_amount == Decimal(20)
        and exc.details["total_contract_value"] == "2000000.000000"
    )


def test_cppo_flag_is_reported(engine: Engine) -> None:
    """CPPO adds 0.5 points (DOMAIN.md): a 3.5 % contract charged 3 % is raised, flagged CPPO."""
    _invoice(engine, fee="-30.00", listing_fee_rate="0.035", channel="reseller")
    exc = run_rule(engine, rule).only()
    assert exc.details["is_cppo"] is True and exc.channel == "reseller"
    assert exc.delta_amount == Decimal("-5.00")


def test_rounding_on_a_tiny_invoice_is_not_a_mismatch(engine: Engine) -> None:
    """3 % of 0.50 is 0.015, billed as 0.02: a rate of 4 % that rounding explains."""
    _invoice(engine, fee="-0.02", gross="0.50")
    assert run_rule(engine, rule).exceptions == []
