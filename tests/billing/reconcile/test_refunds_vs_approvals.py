"""Rule `refunds_vs_approvals`: marketplace refunds vs the refund requests we approved.

DOMAIN.md: refunds go through the refund request form; private-offer refunds need the seller's
approval; the feed carries them as `<type>_REFUND` rows (SELLER_REV_SHARE_REFUND negative).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, update

from billing.db import transaction
from billing.models import RefundRequest
from billing.reconcile.rules import refunds_vs_approvals as rule

from .factories import add_billing_event
from .money_factories import (
    add_refund_request,
    check_rerun_lifecycle,
    october_invoice,
    run_rule,
    the_account_and_product,
)


def _invoice(engine: Engine) -> None:
    """October invoice inv-aws-0001: 100.00 gross, 3.00 listing fee."""
    with transaction(engine) as s:
        october_invoice(s)


def _refund(engine: Engine, gross: str = "-40.00", fee_back: str = "1.20") -> None:
    """A refund issued in December: its own invoice id, the original as parent, no usage period."""
    with transaction(engine) as s:
        account, product = the_account_and_product(s)
        add_billing_event(
            s,
            account,
            product,
            billing_event_id="be-ref-gross",
            amount=gross,
            transaction_type="SELLER_REV_SHARE_REFUND",
            parent_billing_event_id="be-gross",
            invoice_id="inv-aws-refund-1",
            invoice_date=date(2026, 12, 3),
            usage_period_start_date=None,
            usage_period_end_date=None,
        )
        add_billing_event(
            s,
            account,
            product,
            billing_event_id="be-ref-fee",
            amount=fee_back,
            transaction_type="AWS_REV_SHARE_REFUND",
            parent_billing_event_id="be-fee",
            invoice_id="inv-aws-refund-1",
            invoice_date=date(2026, 12, 3),
            usage_period_start_date=None,
            usage_period_end_date=None,
        )


def test_refund_matching_an_approved_request_raises_nothing(engine: Engine) -> None:
    _invoice(engine)
    _refund(engine)
    with transaction(engine) as s:
        account, _ = the_account_and_product(s)
        add_refund_request(s, account, request_id="RR-1", amount="40.00")
    assert run_rule(engine, rule).exceptions == []


def test_refund_without_an_approved_request_lands_in_the_billed_month(engine: Engine) -> None:
    """Refunded in December for October's invoice: the exception is October's."""
    _invoice(engine)
    _refund(engine)
    with transaction(engine) as s:
        account, _ = the_account_and_product(s)
        add_refund_request(s, account, request_id="RR-1", amount="40.00", status="requested")
    exc = run_rule(engine, rule).only()
    assert (
        exc.kind == "refund_without_approval" and exc.period == "2026-10" and exc.currency == "USD"
    )
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal(0),
        Decimal(40),
        Decimal(40),
    )
    assert exc.record_refs == {
        "billing_events": ["be-ref-fee", "be-ref-gross"],
        "contracts": ["C-ACME-0001"],
    }
    assert (
        exc.details["requests"] == ["RR-1:requested"]
        and exc.details["invoice_id"] == "inv-aws-0001"
    )


def test_refund_larger_than_approved_is_raised(engine: Engine) -> None:
    _invoice(engine)
    _refund(engine, gross="-60.00", fee_back="1.80")
    with transaction(engine) as s:
        account, _ = the_account_and_product(s)
        add_refund_request(s, account, request_id="RR-1", amount="40.00")
    exc = run_rule(engine, rule).only()
    assert (exc.expected_amount, exc.observed_amount) == (Decimal(40), Decimal(60))
    assert exc.record_refs["refund_requests"] == ["RR-1"]


def test_approved_refund_missing_waits_for_the_grace_days(engine: Engine) -> None:
    """Approved 2026-11-12, 14 days' grace: raised from 2026-11-27 on."""
    _invoice(engine)
    with transaction(engine) as s:
        account, _ = the_account_and_product(s)
        add_refund_request(s, account, request_id="RR-1", amount="40.00")
    assert run_rule(engine, rule, as_of=date(2026, 11, 20)).exceptions == []
    exc = run_rule(engine, rule, as_of=date(2026, 11, 27)).only()
    assert exc.kind == "approved_refund_missing" and exc.period == "2026-10"
    assert (exc.expected_amount, exc.observed_amount) == (Decimal(40), Decimal(0))
    assert exc.record_refs == {"refund_requests": ["RR-1"]} and exc.account_id is not None


def test_rerun_is_idempotent_changed_data_updates_and_a_fix_closes(engine: Engine) -> None:
    _invoice(engine)
    _refund(engine)
    with transaction(engine) as s:
        account, _ = the_account_and_product(s)
        add_refund_request(s, account, request_id="RR-1", amount="30.00")
    assert run_rule(engine, rule).stats.opened == 1

    def set_request(amount: str) -> None:
        with transaction(engine) as s:
            s.execute(update(RefundRequest).values(amount=Decimal(amount)))

    check_rerun_lifecycle(
        engine, rule, set_request,
        changed="35.00", shows=Decimal(35), fixed="40.00", side="expected_amount",
    )
