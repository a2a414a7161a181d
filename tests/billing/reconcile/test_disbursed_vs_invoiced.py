"""Rule `disbursed_vs_invoiced`: net invoiced by the marketplace vs what it disbursed, once due.

DOMAIN.md (AWS billing_event feed): SELLER_REV_SHARE (+) and AWS_REV_SHARE (−, the listing fee)
are balance-impacting, AWS_TAX_SHARE is informational; a DISBURSED row offsets its INVOICED
parent through parent_billing_event_id and points to the payout; AWS disburses only after the
buyer pays (net 30). Worked example: a $120.60 invoice = 100 SELLER_REV_SHARE + 20.60
AWS_TAX_SHARE — only the 100 (less the listing fee) is the seller's to receive.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, delete

from billing.db import transaction
from billing.models import Account, BillingEvent
from billing.reconcile.rules import disbursed_vs_invoiced as rule

from .factories import add_billing_event, make_product
from .money_factories import (
    add_payout,
    add_payout_failure,
    october_invoice,
    run_rule,
    the_account_and_product,
)


def _invoiced(
    engine: Engine, *, disbursed_gross: str | None = "-100.00", disbursed_fee: str | None = "3.00"
) -> None:
    """The worked example's invoice (100 + 20.60 tax by AWS), a 3 % fee, disbursed in December."""
    with transaction(engine) as s:
        account, product = october_invoice(s)
        add_billing_event(
            s,
            account,
            product,
            billing_event_id="be-tax",
            amount="20.60",
            transaction_type="AWS_TAX_SHARE",
        )
        add_payout(s, amount="-97.00", paid_on=date(2026, 12, 5), bank_trace_id="TRACE-0001")
        for event_id, parent, amount in (
            ("be-d-gross", "be-gross", disbursed_gross),
            ("be-d-fee", "be-fee", disbursed_fee),
        ):
            if amount is not None:
                add_billing_event(
                    s,
                    account,
                    product,
                    billing_event_id=event_id,
                    amount=amount,
                    action="DISBURSED",
                    transaction_type="SELLER_REV_SHARE" if "gross" in parent else "AWS_REV_SHARE",
                    parent_billing_event_id=parent,
                    disbursement_billing_event_id="be-payout",
                    invoice_date=date(2026, 12, 5),
                )


def test_fully_disbursed_month_raises_nothing(engine: Engine) -> None:
    """100 − 3 invoiced, 100 − 3 disbursed; the 20.60 AWS_TAX_SHARE is not the seller's money."""
    _invoiced(engine)
    assert run_rule(engine, rule).exceptions == []


def test_nothing_disbursed_after_the_due_date_is_undisbursed(engine: Engine) -> None:
    _invoiced(engine, disbursed_gross=None, disbursed_fee=None)
    exc = run_rule(engine, rule).only()
    assert exc.kind == "undisbursed" and exc.currency == "USD" and exc.period == "2026-10"
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal("97"),
        Decimal(0),
        Decimal("-97"),
    )
    assert exc.record_refs == {
        "billing_events": ["be-fee", "be-gross"],
        "contracts": ["C-ACME-0001"],
    }
    assert exc.details["gross"] == "100" and exc.details["listing_fee"] == "-3"
    assert exc.details["invoice_ids"] == ["inv-aws-0001"]


def test_before_due_date_plus_grace_nothing_is_raised(engine: Engine) -> None:
    """Due 2026-12-01 + 5 days grace: on 2026-12-05 the money is not late yet."""
    _invoiced(engine, disbursed_gross=None, disbursed_fee=None)
    assert run_rule(engine, rule, as_of=date(2026, 12, 5)).exceptions == []
    assert run_rule(engine, rule, as_of=date(2026, 12, 7)).only().kind == "undisbursed"


def test_partial_disbursement_is_short_and_names_the_payout(engine: Engine) -> None:
    _invoiced(engine, disbursed_gross="-60.00")
    exc = run_rule(engine, rule).only()
    assert exc.kind == "short_disbursed"
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal(97),
        Decimal(57),
        Decimal(-40),
    )
    assert exc.details["payout_ids"] == ["be-payout"]


def test_refund_lowers_the_net_so_a_full_payout_is_over_disbursed(engine: Engine) -> None:
    """Refunds are INVOICED rows of type SELLER_REV_SHARE_REFUND (negative) in the net billed."""
    _invoiced(engine)
    with transaction(engine) as s:
        add_billing_event(
            s,
            *the_account_and_product(s),
            billing_event_id="be-refund",
            amount="-10.00",
            transaction_type="SELLER_REV_SHARE_REFUND",
            parent_billing_event_id="be-gross",
        )
    exc = run_rule(engine, rule).only()
    assert exc.kind == "over_disbursed" and exc.details["refunds"] == "-10"
    assert (exc.expected_amount, exc.observed_amount) == (Decimal(87), Decimal(97))


def test_forgiven_charge_is_not_expected_to_be_disbursed(engine: Engine) -> None:
    """FORGIVEN: AWS reverted the charge (DOMAIN.md) — nothing is due for it."""
    _invoiced(engine, disbursed_gross=None, disbursed_fee=None)
    with transaction(engine) as s:
        acme, prod = the_account_and_product(s)
        add_billing_event(
            s,
            acme,
            prod,
            billing_event_id="be-forgive-gross",
            amount="100.00",
            action="FORGIVEN",
            parent_billing_event_id="be-gross",
        )
        add_billing_event(
            s,
            acme,
            prod,
            billing_event_id="be-forgive-fee",
            amount="3.00",
            action="FORGIVEN",
            transaction_type="AWS_REV_SHARE",
            parent_billing_event_id="be-fee",
        )
    assert run_rule(engine, rule).exceptions == []


def test_rerun_is_idempotent_changed_data_updates_and_a_fix_closes(engine: Engine) -> None:
    _invoiced(engine, disbursed_gross="-60.00")
    assert run_rule(engine, rule).stats.opened == 1
    again = run_rule(engine, rule)
    assert (again.stats.opened, again.stats.unchanged, len(again.exceptions)) == (0, 1, 1)
    with transaction(engine) as s:
        s.execute(delete(BillingEvent).where(BillingEvent.billing_event_id == "be-d-gross"))
        acme, prod = the_account_and_product(s)
        add_billing_event(
            s,
            acme,
            prod,
            billing_event_id="be-d-gross-2",
            amount="-80.00",
            action="DISBURSED",
            parent_billing_event_id="be-gross",
            disbursement_billing_event_id="be-payout",
        )
    changed = run_rule(engine, rule)
    assert changed.stats.updated == 1 and changed.only().observed_amount == Decimal(77)
    with transaction(engine) as s:
        acme, prod = the_account_and_product(s)
        add_billing_event(
            s,
            acme,
            prod,
            billing_event_id="be-d-gross-3",
            amount="-20.00",
            action="DISBURSED",
            parent_billing_event_id="be-gross",
            disbursement_billing_event_id="be-payout",
        )
    fixed = run_rule(engine, rule)
    assert fixed.stats.closed == 1 and fixed.open == []


def test_buyers_we_do_not_know_stay_apart(engine: Engine) -> None:
    """Two AWS accounts that are not (yet) ours: two exceptions, not one merged or a duplicate."""
    with transaction(engine) as s:
        product = make_product(s)
        for n, aws_id in enumerate(("000000000001", "000000000002"), start=1):
            ghost = Account(
                account_key=f"GHOST-{n}", name="ghost", aws_account_id=aws_id
            )  # never stored
            add_billing_event(
                s,
                ghost,
                product,
                billing_event_id=f"be-ghost-{n}",
                amount="10.00",
                invoice_id=f"inv-ghost-{n}",
            )
    run = run_rule(engine, rule)
    assert sorted((e.account_id, e.kind, e.expected_amount) for e in run.open) == [
        (None, "undisbursed", Decimal(10)),
        (None, "undisbursed", Decimal(10)),
    ]


def test_rows_of_a_bounced_payout_are_not_disbursed(engine: Engine) -> None:
    """DISBURSEMENT_FAILURE (DOMAIN.md): the payout failed, so its rows' money never arrived."""
    _invoiced(engine)
    with transaction(engine) as s:
        add_payout_failure(s, amount="97.00")
    exc = run_rule(engine, rule).only()
    assert exc.kind == "undisbursed" and exc.expected_amount == Decimal(97)
