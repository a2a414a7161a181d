"""Rule `direct_payments`: direct invoices paid short or not at all once due; cash matching
no invoice.

DOMAIN.md taxonomy: `short_payment` — collected < billed after the due date, remittance < invoice
(direct: chase the customer); "also seen in the field: unapplied cash on direct contracts (a
receipt matching no invoice)".
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, select, update

from billing.db import transaction
from billing.models import Account, Payment
from billing.reconcile.rules import direct_payments as rule

from .factories import (
    Line,
    add_billing_event,
    add_invoice,
    make_account,
    make_contract,
    make_product,
)
from .money_factories import add_credit_note, add_payment, check_rerun_lifecycle, run_rule


def _invoice(engine: Engine, *paid: str) -> None:
    """INV-D-1: 1,000 api_calls at 0.10 + 20.00 tax = 120.00, due 2026-12-01, and its payments."""
    with transaction(engine) as s:
        account, product = make_account(s), make_product(s)
        contract = make_contract(
            s, account, product, channel="direct", agreement_id=None, offer_id=None
        )
        add_invoice(
            s,
            account,
            invoice_number="INV-D-1",
            contract=contract,
            lines=[Line(product.product_code, "api_calls", "1000", "0.10", tax_amount="20.00")],
        )
        for n, amount in enumerate(paid, start=1):
            add_payment(s, account, payment_id=f"PAY-{n}", amount=amount, invoice_number="INV-D-1")


def test_invoice_paid_in_full_raises_nothing(engine: Engine) -> None:
    _invoice(engine, "100.00", "20.00")
    assert run_rule(engine, rule).exceptions == []


def test_unpaid_invoice_waits_for_due_date_plus_grace(engine: Engine) -> None:
    """Due 2026-12-01 with 5 days' grace: raised from 2026-12-07 on."""
    _invoice(engine)
    assert run_rule(engine, rule, as_of=date(2026, 12, 6)).exceptions == []
    exc = run_rule(engine, rule, as_of=date(2026, 12, 7)).only()
    assert (
        exc.kind == "unpaid"
        and exc.channel == "direct"
        and exc.period == "2026-10"
        and exc.currency == "USD"
    )
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal(120),
        Decimal(0),
        Decimal(-120),
    )
    assert exc.record_refs == {"contracts": ["C-ACME-0001"], "invoices": ["INV-D-1"]}
    assert exc.details["days_past_due"] == 6


def test_short_payment_names_the_payments(engine: Engine) -> None:
    _invoice(engine, "100.00")
    exc = run_rule(engine, rule).only()
    assert exc.kind == "short_paid" and (exc.expected_amount, exc.observed_amount) == (
        Decimal(120),
        Decimal(100),
    )
    assert exc.record_refs["payments"] == ["PAY-1"]


def test_credit_note_lowers_what_is_owed(engine: Engine) -> None:
    _invoice(engine, "100.00")
    with transaction(engine) as s:
        add_credit_note(
            s,
            s.scalars(select(Account)).one(),
            credit_note_number="CN-1",
            amount="20.00",
            invoice_number="INV-D-1",
        )
    assert run_rule(engine, rule).exceptions == []


def test_cash_naming_no_known_invoice_is_unapplied_unless_it_is_a_payout(engine: Engine) -> None:
    with transaction(engine) as s:
        add_payment(
            s,
            None,
            payment_id="BANK-1",
            amount="500.00",
            kind="bank_receipt",
            received_date=date(2026, 10, 20),
            payer="ACME CORP",
            remittance_note="oct services",
        )
        add_payment(
            s,
            None,
            payment_id="BANK-2",
            amount="97.00",
            kind="bank_receipt",
            received_date=date(2026, 10, 21),
            bank_trace_id="TRACE-9",
        )
        add_billing_event(
            s,
            None,
            None,
            billing_event_id="be-payout",
            amount="-97.00",
            action="DISBURSED",
            transaction_type="DISBURSEMENT",
            bank_trace_id="TRACE-9",
        )
        add_payment(
            s,
            None,
            payment_id="BANK-3",
            amount="5.00",
            kind="bank_receipt",
            received_date=date(2026, 11, 2),
        )  # November's
    exc = run_rule(engine, rule).only()
    assert (
        exc.kind == "unapplied_cash"
        and exc.natural_key.endswith("BANK-1")
        and exc.account_id is None
    )
    assert (exc.expected_amount, exc.observed_amount) == (Decimal(0), Decimal(500))
    assert exc.record_refs == {"payments": ["BANK-1"]} and exc.details["payer"] == "ACME CORP"


def test_rerun_is_idempotent_changed_data_updates_and_a_fix_closes(engine: Engine) -> None:
    _invoice(engine, "100.00")
    assert run_rule(engine, rule).stats.opened == 1

    def set_paid(amount: str) -> None:
        with transaction(engine) as s:
            s.execute(
                update(Payment).where(Payment.payment_id == "PAY-1").values(amount=Decimal(amount))
            )

    check_rerun_lifecycle(
        engine, rule, set_paid, changed="110.00", shows=Decimal(110), fixed="120.00"
    )
