"""Rule `credits_vs_credit_notes`: marketplace `_CREDIT` rows vs our credit notes; direct
credit notes vs the invoice they credit.

DOMAIN.md: `<type>_CREDIT` is an amount AWS credited to the buyer; `credit_misapplied` is a
credit that differs from the credit notes agreed (evidence: `_CREDIT` rows vs credit notes).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, update

from billing.db import transaction
from billing.models import CreditNote
from billing.reconcile.rules import credits_vs_credit_notes as rule

from .factories import (
    Line,
    add_billing_event,
    add_invoice,
    make_account,
    make_contract,
    make_product,
)
from .money_factories import add_credit_note, check_rerun_lifecycle, run_rule


def _marketplace(
    engine: Engine, *, credit: str | None = "-25.00", note: str | None = "25.00"
) -> None:
    """October marketplace invoice inv-aws-0001 (our INV-MKT-1), a credit in December, our note."""
    with transaction(engine) as s:
        account, product = make_account(s), make_product(s)
        contract = make_contract(s, account, product)
        add_billing_event(s, account, product, billing_event_id="be-gross", amount="100.00")
        add_invoice(
            s,
            account,
            invoice_number="INV-MKT-1",
            contract=contract,
            channel="aws_marketplace",
            partner_invoice_id="inv-aws-0001",
            lines=[Line(product.product_code, "api_calls", "50000", "0.002")],
        )
        if credit is not None:
            add_billing_event(
                s,
                account,
                product,
                billing_event_id="be-credit",
                amount=credit,
                transaction_type="SELLER_REV_SHARE_CREDIT",
                parent_billing_event_id="be-gross",
                invoice_id="inv-aws-credit-1",
                invoice_date=date(2026, 12, 2),
                usage_period_start_date=None,
                usage_period_end_date=None,
            )
        if note is not None:
            add_credit_note(
                s, account, credit_note_number="CN-1", amount=note, invoice_number="INV-MKT-1"
            )


def test_marketplace_credit_matching_our_note_raises_nothing(engine: Engine) -> None:
    _marketplace(engine)
    assert run_rule(engine, rule).exceptions == []


def test_marketplace_credit_differs_from_our_note(engine: Engine) -> None:
    _marketplace(engine, credit="-40.00")
    exc = run_rule(engine, rule).only()
    assert exc.kind == "credit_mismatch" and exc.period == "2026-10" and exc.currency == "USD"
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal(25),
        Decimal(40),
        Decimal(15),
    )
    assert exc.record_refs == {
        "billing_events": ["be-credit"],
        "credit_notes": ["CN-1"],
        "invoices": ["INV-MKT-1"],
    }
    assert exc.channel == "aws_marketplace" and exc.details["side"] == "marketplace"


def test_credit_note_the_marketplace_never_applied(engine: Engine) -> None:
    _marketplace(engine, credit=None)
    exc = run_rule(engine, rule).only()
    assert (exc.expected_amount, exc.observed_amount) == (Decimal(25), Decimal(0))
    assert exc.record_refs == {"credit_notes": ["CN-1"], "invoices": ["INV-MKT-1"]}


def test_direct_credit_beyond_the_invoice_and_in_another_currency(engine: Engine) -> None:
    with transaction(engine) as s:
        account, product = make_account(s), make_product(s)
        add_invoice(
            s,
            account,
            invoice_number="INV-D-1",
            lines=[Line(product.product_code, "api_calls", "1000", "0.10")],
        )
        add_credit_note(
            s, account, credit_note_number="CN-D-1", amount="80.00", invoice_number="INV-D-1"
        )
        add_credit_note(
            s,
            account,
            credit_note_number="CN-D-2",
            amount="30.00",
            invoice_number="INV-D-1",
            currency="EUR",
        )
        add_credit_note(
            s, account, credit_note_number="CN-X", amount="5.00", invoice_number="INV-NOWHERE"
        )
        add_credit_note(
            s, account, credit_note_number="CN-ACCT", amount="5.00", invoice_number=None
        )
    direct = run_rule(
        engine, rule
    ).only()  # the credit on account (no invoice) has nothing to be checked against
    assert direct.natural_key.endswith("invoice:INV-D-1") and direct.period == "2026-10"
    assert direct.details["reasons"] == ["credit_exceeds_invoice", "credit_in_another_currency"]
    assert (direct.expected_amount, direct.observed_amount) == (Decimal(100), Decimal(110))
    assert direct.record_refs == {"credit_notes": ["CN-D-1", "CN-D-2"], "invoices": ["INV-D-1"]}
    # The note naming an unknown invoice belongs to the month it was issued (November).
    orphan = [e for e in run_rule(engine, rule, "2026-11").open if e.period == "2026-11"]
    assert [(e.natural_key.split(":")[-1], e.observed_amount) for e in orphan] == [
        ("CN-X", Decimal(5))
    ]


def test_rerun_is_idempotent_changed_data_updates_and_a_fix_closes(engine: Engine) -> None:
    _marketplace(engine, note="20.00")
    assert run_rule(engine, rule).stats.opened == 1

    def set_note(amount: str) -> None:
        with transaction(engine) as s:
            s.execute(update(CreditNote).values(amount=Decimal(amount)))

    check_rerun_lifecycle(
        engine, rule, set_note,
        changed="22.00", shows=Decimal(22), fixed="25.00", side="expected_amount",
    )
