"""Rule `forgiven_charges`: billing events with action FORGIVEN, one exception per buyer invoice.

DOMAIN.md: `action` FORGIVEN means AWS reverted the charge; the usual resolution is to confirm,
then write off. The feed does not fix the sign of a FORGIVEN row, so both signs are read in the
direction of the charge they revert.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, update

from billing.db import transaction
from billing.models import BillingEvent
from billing.reconcile.rules import forgiven_charges as rule

from .factories import add_billing_event
from .money_factories import october_invoice, run_rule, the_account_and_product


def _invoice(engine: Engine) -> None:
    """Invoice inv-aws-0001: 100.00 gross, 3.00 listing fee (net 97.00), October usage."""
    with transaction(engine) as s:
        october_invoice(s)


def _forgive(engine: Engine, gross: str, fee: str | None = None) -> None:
    with transaction(engine) as s:
        add_billing_event(
            s,
            *the_account_and_product(s),
            billing_event_id="be-fg-gross",
            amount=gross,
            action="FORGIVEN",
            parent_billing_event_id="be-gross",
        )
        if fee is not None:
            add_billing_event(
                s,
                *the_account_and_product(s),
                billing_event_id="be-fg-fee",
                amount=fee,
                action="FORGIVEN",
                transaction_type="AWS_REV_SHARE",
                parent_billing_event_id="be-fee",
            )


def test_an_invoice_without_forgiven_rows_raises_nothing(engine: Engine) -> None:
    _invoice(engine)
    assert run_rule(engine, rule).exceptions == []


@pytest.mark.parametrize(("gross", "fee"), [("100.00", "-3.00"), ("-100.00", "3.00")])
def test_a_fully_forgiven_invoice_is_raised_whatever_the_sign(
    engine: Engine, gross: str, fee: str
) -> None:
    """Forgiven 100 gross and its 3 fee: 97 net invoiced, nothing left to collect."""
    _invoice(engine)
    _forgive(engine, gross, fee)
    exc = run_rule(engine, rule).only()
    assert exc.kind == "charge_forgiven" and exc.currency == "USD" and exc.period == "2026-10"
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal(97),
        Decimal(0),
        Decimal(-97),
    )
    assert exc.record_refs == {
        "billing_events": ["be-fg-fee", "be-fg-gross"],
        "contracts": ["C-ACME-0001"],
    }
    assert exc.details["forgiven_gross"] == "100.00" and exc.details["invoice_id"] == "inv-aws-0001"
    assert exc.details["parent_billing_event_ids"] == ["be-fee", "be-gross"]


def test_rerun_is_idempotent_changed_data_updates_and_a_fix_closes(engine: Engine) -> None:
    _invoice(engine)
    _forgive(engine, "40.00")
    first = run_rule(engine, rule)
    assert first.stats.opened == 1 and first.only().observed_amount == Decimal(57)
    again = run_rule(engine, rule)
    assert (again.stats.opened, again.stats.unchanged) == (0, 1)
    with transaction(engine) as s:
        s.execute(
            update(BillingEvent)
            .where(BillingEvent.billing_event_id == "be-fg-gross")
            .values(amount=Decimal("50.00"))
        )
    changed = run_rule(engine, rule)
    assert changed.stats.updated == 1 and changed.only().observed_amount == Decimal(47)
    with transaction(
        engine
    ) as s:  # the feed withdrew the FORGIVEN row: it carries a delete_date now
        s.execute(
            update(BillingEvent)
            .where(BillingEvent.billing_event_id == "be-fg-gross")
            .values(delete_date=datetime(2026, 12, 2, tzinfo=UTC))
        )
    fixed = run_rule(engine, rule)
    assert fixed.stats.closed == 1 and fixed.open == []
