"""Rule `disbursement_integrity`: payouts vs the rows they pay, failed payouts, missing bank
receipts.

DOMAIN.md (AWS billing_event): DISBURSED rows point to the payout row (transaction_type
DISBURSEMENT) through disbursement_billing_event_id; the payout's bank_trace_id matches the bank
statement; DISBURSEMENT_FAILURE marks a payout that failed. Fixture — AWS's worked example: a
reseller's payout of 19.80 = 100 − 80 (cost paid to the ISV) − 0.20 (listing fee).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine

from billing.db import transaction
from billing.reconcile.rules import disbursement_integrity as rule

from .factories import add_billing_event, make_account, make_contract, make_product
from .money_factories import (
    add_payment,
    add_payout,
    add_payout_failure,
    check_rerun_lifecycle,
    run_rule,
    set_event,
)

PAID_ON = date(2026, 12, 5)


def _payout(engine: Engine, *, payout: str = "-19.80", with_receipt: bool = True) -> None:
    """October's 100.00 sale, 80.00 cost, 0.20 fee, disbursed on 5 December as one payout."""
    with transaction(engine) as s:
        account, product = make_account(s), make_product(s)
        make_contract(s, account, product, channel="reseller")
        add_payout(
            s, amount=payout, paid_on=PAID_ON, action_date=PAID_ON, bank_trace_id="TRACE-0001"
        )
        for n, (kind, amount) in enumerate(
            (
                ("SELLER_REV_SHARE", "100.00"),
                ("SELLER_REV_SHARE", "-80.00"),
                ("AWS_REV_SHARE", "-0.20"),
            ),
            start=1,
        ):
            add_billing_event(
                s,
                account,
                product,
                billing_event_id=f"be-inv-{n}",
                amount=amount,
                transaction_type=kind,
            )
            add_billing_event(
                s,
                account,
                product,
                billing_event_id=f"be-dis-{n}",
                amount=str(-Decimal(amount)),
                transaction_type=kind,
                action="DISBURSED",
                parent_billing_event_id=f"be-inv-{n}",
                disbursement_billing_event_id="be-payout",
                invoice_date=PAID_ON,
            )
        if with_receipt:
            add_payment(
                s,
                None,
                payment_id="BANK-0001",
                amount="19.80",
                kind="disbursement",
                channel="reseller",
                received_date=date(2026, 12, 6),
                bank_trace_id="TRACE-0001",
            )


def test_payout_that_adds_up_and_reached_the_bank_raises_nothing(engine: Engine) -> None:
    """19.80 = 100 − 80 − 0.20, and the bank shows TRACE-0001."""
    _payout(engine)
    assert run_rule(engine, rule).exceptions == []


def test_payout_that_differs_from_its_rows(engine: Engine) -> None:
    _payout(engine, payout="-18.80")
    exc = run_rule(engine, rule).only()
    assert (
        exc.kind == "disbursement_sum_mismatch"
        and exc.period == "2026-10"
        and exc.channel == "reseller"
    )
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal("19.80"),
        Decimal("18.80"),
        Decimal("-1.00"),
    )
    assert exc.record_refs == {
        "billing_events": ["be-dis-1", "be-dis-2", "be-dis-3", "be-payout"],
        "contracts": ["C-ACME-0001"],
    }
    assert exc.details["rows_paid"] == 3 and exc.currency == "USD"


def test_missing_bank_receipt_waits_for_the_grace_days(engine: Engine) -> None:
    _payout(engine, with_receipt=False)
    assert run_rule(engine, rule, as_of=date(2026, 12, 7)).exceptions == []
    exc = run_rule(engine, rule, as_of=date(2026, 12, 9)).only()
    assert exc.kind == "bank_receipt_missing"
    assert (exc.expected_amount, exc.observed_amount) == (Decimal("19.80"), Decimal(0))
    assert exc.details["bank_trace_id"] == "TRACE-0001"


def test_failed_payout_is_raised_once_as_failed(engine: Engine) -> None:
    """A DISBURSEMENT_FAILURE row: the payout never reached the bank, and that is one exception."""
    _payout(engine, with_receipt=False)
    with transaction(engine) as s:
        add_payout_failure(
            s,
            amount="19.80",
            invoice_date=date(2026, 12, 8),
            payment_due_date=date(2026, 12, 1),
            parent_billing_event_id=None,
        )
    exc = run_rule(engine, rule).only()
    assert exc.kind == "disbursement_failed" and exc.period == "2026-10"
    assert (exc.expected_amount, exc.observed_amount) == (Decimal("19.80"), Decimal(0))
    assert exc.record_refs["billing_events"] == ["be-fail", "be-payout"]


def test_rerun_is_idempotent_changed_data_updates_and_a_fix_closes(engine: Engine) -> None:
    _payout(engine, payout="-18.80")
    assert run_rule(engine, rule).stats.opened == 1

    def set_payout(amount: str) -> None:
        set_event(engine, "be-payout", amount=Decimal(amount))

    check_rerun_lifecycle(
        engine, rule, set_payout, changed="-17.80", shows=Decimal("17.80"), fixed="-19.80"
    )
