"""Rule `channel_overlap`: the same account × product × month billed direct and via AWS.

DOMAIN.md (channel_conflict): "same usage billed direct and via the marketplace — same
customer/period in both ledgers → credit note on the direct invoice".
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, update

from billing.db import transaction
from billing.models import ExceptionStatus, Invoice, InvoiceLine
from billing.reconcile.rules import channel_overlap as rule

from .factories import (
    Line,
    add_billing_event,
    add_invoice,
    aws_month,
    make_contract,
    reconcile_once,
)

EVENT_ID = "be-" + "2" * 37
CODE = "7x1k2m9q4w8e3r6t5y0u1i2o3"


def _both_ledgers(engine: Engine, *, line_product: str | None = CODE, marketplace: bool = True) -> None:
    with transaction(engine) as s:
        month = aws_month(s)
        direct = make_contract(s, month.account, month.product, contract_key="C-ACME-D1", channel="direct",
                               agreement_id=None, offer_id=None, listing_fee_rate=None)
        add_invoice(s, month.account, contract=direct, lines=[Line(line_product, "api_calls", "250", "0.002")])
        if marketplace:
            add_billing_event(s, month.account, month.product, billing_event_id=EVENT_ID, amount="0.50")


def test_one_ledger_only_raises_nothing(engine: Engine) -> None:
    _both_ledgers(engine, marketplace=False)
    assert reconcile_once(engine, rule).exceptions == []


def test_billed_in_both_channels_is_found(engine: Engine) -> None:
    _both_ledgers(engine)
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.kind == "billed_in_two_channels" and exc.channel == "direct"
    assert (exc.product_code, exc.period, exc.currency) == (CODE, "2026-10", "USD")
    assert exc.expected_amount == Decimal("0") and exc.observed_amount == Decimal("0.5")
    assert exc.delta_amount == Decimal("0.5")
    assert exc.record_refs == {"invoices": ["INV-2026-10-0001"], "billing_events": [EVENT_ID],
                               "contracts": ["C-ACME-0001", "C-ACME-D1"]}
    assert exc.details["marketplace_amount"] == "0.5" and exc.details["marketplace_channel"] == "aws_marketplace"


def test_line_without_product_takes_the_contracts(engine: Engine) -> None:
    _both_ledgers(engine, line_product=None)
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.product_code == CODE


def test_other_period_does_not_overlap(engine: Engine) -> None:
    _both_ledgers(engine)
    assert reconcile_once(engine, rule, "2026-11").exceptions == []


def test_rerun_update_and_close_on_void(engine: Engine) -> None:
    _both_ledgers(engine)
    first = reconcile_once(engine, rule)
    again = reconcile_once(engine, rule)
    assert (again.stats.opened, again.stats.unchanged) == (0, 1)
    assert [e.id for e in again.exceptions] == [e.id for e in first.exceptions]
    with transaction(engine) as s:
        s.execute(update(InvoiceLine).values(amount=Decimal("0.40")))
    changed = reconcile_once(engine, rule)
    assert changed.stats.updated == 1 and changed.exceptions[0].observed_amount == Decimal("0.4")
    with transaction(engine) as s:  # the direct invoice was voided (credit note issued)
        s.execute(update(Invoice).values(status="void"))
    closed = reconcile_once(engine, rule)
    assert closed.stats.closed == 1 and closed.exceptions[0].status == ExceptionStatus.CLOSED
    assert "channel_overlap" in (closed.exceptions[0].close_reason or "")
