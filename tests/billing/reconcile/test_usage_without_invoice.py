"""Rule `usage_without_invoice`: usage in a month that nothing invoiced.

DOMAIN.md (missing_invoice): "entitlement but nothing invoiced — no INVOICED row after the
schedule date"; SELLER_REV_SHARE is the gross charge of a billing_event, and
usage_period_start_date/end_date give the billed period.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, update

from billing.db import transaction
from billing.models import Account, BillingEvent, ContractRate, ExceptionStatus, Product
from billing.reconcile.rules import usage_without_invoice as rule

from .factories import (
    Line,
    add_billing_event,
    add_invoice,
    add_usage,
    aws_month,
    make_contract,
    make_product,
    reconcile_once,
    utc,
)


def _invoice_on_aws(engine: Engine, **overrides: object) -> None:
    with transaction(engine) as s:
        add_billing_event(s, s.query(Account).one(), s.query(Product).one(), billing_event_id="be-" + "1" * 37,
                          amount="0.50", **overrides)  # type: ignore[arg-type]


def test_invoiced_month_raises_nothing(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    _invoice_on_aws(engine)
    assert reconcile_once(engine, rule).exceptions == []


def test_marketplace_usage_without_invoiced_event_is_found(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.kind == "not_invoiced" and exc.channel == "aws_marketplace"
    # 250 api_calls at the contracted 0.002.
    assert exc.expected_amount == Decimal("0.5") and exc.observed_amount == Decimal("0")
    assert exc.delta_amount == Decimal("-0.5") and exc.currency == "USD"
    assert exc.expected_quantity == Decimal("250") and exc.dimension_key == "api_calls"
    assert exc.record_refs == {"contracts": ["C-ACME-0001"]}
    assert exc.details["invoices_due_by"] == "2026-11-06"


def test_nothing_is_said_before_invoices_are_due(engine: Engine) -> None:
    """AWS invoices a month's usage early in the next month; the grace is 5 days."""
    with transaction(engine) as s:
        aws_month(s)
    assert reconcile_once(engine, rule, as_of=date(2026, 11, 5)).exceptions == []
    assert len(reconcile_once(engine, rule, as_of=date(2026, 11, 6)).exceptions) == 1


def test_events_that_do_not_count(engine: Engine) -> None:
    """A deleted row (the feed's delete_date), a listing-fee row, or another month's usage period."""
    with transaction(engine) as s:
        aws_month(s)
    _invoice_on_aws(engine, usage_period_start_date=date(2026, 9, 1), usage_period_end_date=date(2026, 9, 30))
    assert len(reconcile_once(engine, rule).open) == 1
    with transaction(engine) as s:
        s.execute(update(BillingEvent).values(usage_period_start_date=date(2026, 10, 1),
                                              usage_period_end_date=date(2026, 10, 31),
                                              transaction_type="AWS_REV_SHARE"))
    assert len(reconcile_once(engine, rule).open) == 1
    with transaction(engine) as s:
        s.execute(update(BillingEvent).values(transaction_type="SELLER_REV_SHARE", delete_date=utc(2026, 11, 2)))
    assert len(reconcile_once(engine, rule).open) == 1
    with transaction(engine) as s:
        s.execute(update(BillingEvent).values(delete_date=None))
    assert reconcile_once(engine, rule).open == []


def test_direct_contract_needs_our_invoice(engine: Engine) -> None:
    with transaction(engine) as s:
        month = aws_month(s, with_metering=False, with_partner_usage=False)
        month.contract.channel = "direct"
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.channel == "direct" and exc.expected_amount == Decimal("0.5")
    with transaction(engine) as s:
        add_invoice(s, s.query(Account).one(), lines=[Line("7x1k2m9q4w8e3r6t5y0u1i2o3", "api_calls", "250", "0.002")])
    closed = reconcile_once(engine, rule)
    assert closed.stats.closed == 1 and closed.exceptions[0].status == ExceptionStatus.CLOSED


def test_an_invoice_for_another_product_does_not_count(engine: Engine) -> None:
    """Two direct contracts of one customer; the month's invoice bills only the other product."""
    with transaction(engine) as s:
        month = aws_month(s, with_metering=False, with_partner_usage=False)
        month.contract.channel = "direct"
        other = make_product(s, "othr0000000000000000000000", marketplace_product_id=None, dimensions={"seats": "users"})
        other_contract = make_contract(s, month.account, other, contract_key="C-ACME-OTHER", channel="direct",
                                       rates={"seats": "10"}, agreement_id=None, offer_id=None)
        add_usage(s, month.account, other, "seats", {utc(2026, 10, 3): "4"})
        add_invoice(s, month.account, contract=other_contract, lines=[Line(other.product_code, "seats", "4", "10")])
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.product_code == "7x1k2m9q4w8e3r6t5y0u1i2o3" and exc.record_refs == {"contracts": ["C-ACME-0001"]}


def test_included_quantity_is_not_billable(engine: Engine) -> None:
    with transaction(engine) as s:
        month = aws_month(s)
        add_usage(s, month.account, month.product, "storage_gb", {utc(2026, 10, 2): "10"})
    with transaction(engine) as s:
        s.execute(update(ContractRate).where(ContractRate.dimension_key == "api_calls")
                  .values(included_quantity=Decimal("300")))
    (exc,) = reconcile_once(engine, rule).exceptions
    # api_calls fully included; 10 storage_gb at 0.10 remain billable.
    assert exc.expected_amount == Decimal("1") and exc.dimension_key == "storage_gb"
    with transaction(engine) as s:
        s.execute(update(ContractRate).values(included_quantity=Decimal("1000")))
    assert reconcile_once(engine, rule).open == []


def test_rerun_is_idempotent_and_changes_update(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    first = reconcile_once(engine, rule)
    again = reconcile_once(engine, rule, as_of=date(2027, 2, 1))  # another night, same evidence
    assert (again.stats.opened, again.stats.updated, again.stats.unchanged) == (0, 0, 1)
    assert [e.id for e in again.exceptions] == [e.id for e in first.exceptions]
    with transaction(engine) as s:
        add_usage(s, s.query(Account).one(), s.query(Product).one(), "api_calls", {utc(2026, 10, 9): "50"})
    changed = reconcile_once(engine, rule)
    assert changed.stats.updated == 1 and changed.exceptions[0].expected_amount == Decimal("0.6")
