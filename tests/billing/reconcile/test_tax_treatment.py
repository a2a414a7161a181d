"""Rule `tax_treatment`: tax rows vs the contract's tax party, and our invoice's tax vs the feed's.

DOMAIN.md: AWS collects and remits (AWS_TAX_SHARE), or collects and passes to the seller
(SELLER_TAX_SHARE), or the seller handles it. Fixture — AWS's worked example: a $120.60 invoice
= 100 SELLER_REV_SHARE + 20.60 AWS_TAX_SHARE.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine

from billing.db import transaction
from billing.reconcile.rules import tax_treatment as rule

from .factories import (
    Line,
    add_billing_event,
    add_invoice,
    make_account,
    make_contract,
    make_product,
)
from .money_factories import check_rerun_lifecycle, run_rule, set_event


def _worked_example(
    engine: Engine, *, tax_type: str = "AWS_TAX_SHARE", tax: str = "20.60", tax_party: str = "aws"
) -> None:
    """Our invoice INV-MKT-1: 100.00 + 20.60 tax = 120.60, billed by AWS as inv-aws-0001."""
    with transaction(engine) as s:
        account, product = make_account(s), make_product(s)
        contract = make_contract(s, account, product, tax_party=tax_party)
        add_billing_event(s, account, product, billing_event_id="be-gross", amount="100.00")
        add_billing_event(
            s, account, product, billing_event_id="be-tax", amount=tax, transaction_type=tax_type
        )
        invoice = add_invoice(
            s,
            account,
            invoice_number="INV-MKT-1",
            contract=contract,
            channel="aws_marketplace",
            partner_invoice_id="inv-aws-0001",
            lines=[Line(product.product_code, "api_calls", "50000", "0.002", tax_amount="20.60")],
        )
        assert invoice.total == Decimal("120.60")


def test_worked_example_raises_nothing(engine: Engine) -> None:
    """$120.60 = 100 SELLER_REV_SHARE + 20.60 AWS_TAX_SHARE on a contract where AWS handles tax."""
    _worked_example(engine)
    assert run_rule(engine, rule).exceptions == []


def test_seller_tax_share_on_an_aws_tax_contract_is_a_party_mismatch(engine: Engine) -> None:
    _worked_example(engine, tax_type="SELLER_TAX_SHARE")
    exc = run_rule(engine, rule).only()
    assert exc.kind == "tax_party_mismatch" and exc.currency == "USD" and exc.period == "2026-10"
    assert (exc.expected_amount, exc.observed_amount) == (Decimal(0), Decimal("20.60"))
    assert exc.record_refs == {"billing_events": ["be-tax"], "contracts": ["C-ACME-0001"]}
    assert (
        exc.details["tax_party"] == "aws"
        and exc.details["unexpected_row_type"] == "SELLER_TAX_SHARE"
    )


def test_aws_tax_share_on_a_seller_tax_contract_is_a_party_mismatch(engine: Engine) -> None:
    _worked_example(engine, tax_party="seller")
    assert run_rule(engine, rule).only().details["unexpected_row_type"] == "AWS_TAX_SHARE"


def test_feed_tax_differing_from_our_invoice_is_an_amount_mismatch(engine: Engine) -> None:
    _worked_example(engine, tax="18.00")
    exc = run_rule(engine, rule).only()
    assert exc.kind == "tax_amount_mismatch"
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal("20.60"),
        Decimal("18.00"),
        Decimal("-2.60"),
    )
    assert exc.record_refs == {
        "billing_events": ["be-tax"],
        "contracts": ["C-ACME-0001"],
        "invoices": ["INV-MKT-1"],
    }


def test_rerun_is_idempotent_changed_data_updates_and_a_fix_closes(engine: Engine) -> None:
    _worked_example(engine, tax="18.00")
    assert run_rule(engine, rule).stats.opened == 1

    def set_tax(amount: str) -> None:
        set_event(engine, "be-tax", amount=Decimal(amount))

    check_rerun_lifecycle(
        engine, rule, set_tax, changed="19.00", shows=Decimal("19.00"), fixed="20.60"
    )
