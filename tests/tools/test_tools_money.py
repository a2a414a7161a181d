"""Money tools: billing events linked by parent and payout ids, invoices, cash, the listing-fee check."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, update

from billing.db import transaction
from billing.models import Contract
from tests.tools.case_world import World
from tools import (
    ToolContext,
    check_listing_fee,
    get_invoices_and_credits,
    get_partner_billing_events,
    get_payments_and_disbursements,
    read_only_session,
)


def test_billing_events_follow_parent_and_payout_links(engine: Engine, world: World) -> None:
    """DOMAIN.md: a DISBURSED row offsets its INVOICED parent via parent_billing_event_id and points to
    the payout via disbursement_billing_event_id; rows with a delete_date are not current."""
    with read_only_session(engine) as session:
        result = get_partner_billing_events(ToolContext.for_exception(session, world.money_case_id))
    ids = [e.billing_event_id for e in result.events]
    assert set(ids) == {"be-acme-gross", "be-acme-fee", "be-acme-tax", "be-acme-refund", "be-acme-disb", "be-payout-1"}
    assert "be-acme-withdrawn" not in ids
    (invoice,) = result.invoices
    assert (invoice.invoice_id, invoice.gross, invoice.listing_fee, invoice.aws_tax, invoice.refunds,
            invoice.disbursed) == ("inv-aws-0001", Decimal(100), Decimal(-3), Decimal("20.6"), Decimal(-10), Decimal(-90))
    # AWS_TAX_SHARE is informational (not balance-impacting): net = 100 − 3 − 10.
    assert invoice.net_invoiced == Decimal(87)
    assert [(r.currency, r.rate_date) for r in result.fx_rates] == [("EUR", date(2026, 12, 5))]


def test_starting_from_one_event_finds_its_relatives(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        result = get_partner_billing_events(ToolContext.for_exception(session, world.case_id),
                                            billing_event_id="be-acme-disb")
    assert {"be-acme-disb", "be-acme-gross", "be-payout-1"} <= {e.billing_event_id for e in result.events}


def test_invoices_credit_notes_and_refund_requests(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        result = get_invoices_and_credits(ToolContext.for_exception(session, world.money_case_id))
        one = get_invoices_and_credits(ToolContext.for_exception(session, world.money_case_id),
                                       invoice_number=world.acme_direct_invoice)
    assert [i.invoice_number for i in result.invoices] == ["INV-2026-10-0001", "INV-2026-10-AWS1"]
    assert [c.credit_note_number for c in result.credit_notes] == ["CN-0001"]
    assert [r.request_id for r in result.refund_requests] == ["RR-0001"]
    assert [i.invoice_number for i in one.invoices] == [world.acme_direct_invoice]
    assert [len(i.lines) for i in one.invoices] == [2] and one.refund_requests == []


def test_payments_bank_receipts_and_invoice_balances(engine: Engine, world: World) -> None:
    """The payout's bank_trace_id matches the bank statement (DOMAIN.md): the unowned disbursement receipt
    with TRACE-777 belongs to the case; unidentified cash with no link does not."""
    with read_only_session(engine) as session:
        result = get_payments_and_disbursements(ToolContext.for_exception(session, world.money_case_id))
    assert [p.payment_id for p in result.payments] == ["PAY-0001", "PAY-DISB-777"]
    balance = next(b for b in result.invoice_balances if b.invoice_number == world.acme_direct_invoice)
    # 1000 × 0.002 + 10 × 0.10 + 0.30 tax = 3.30; credited 0.50; paid 2.60.
    assert (balance.total, balance.credited, balance.paid, balance.outstanding) == (
        Decimal("3.3"), Decimal("0.5"), Decimal("2.6"), Decimal("0.2"))
    assert [p.bank_trace_id for p in result.payouts] == ["TRACE-777"]


@pytest.mark.parametrize(("changes", "schedule", "matches_schedule"), [
    # A private offer under $1M: 3 % (DOMAIN.md, listing fees from 5 Jan 2024).
    ({}, Decimal("0.03"), True),
    # All renewals: 1.5 %; the 3 % charged matches the contract but not the schedule.
    ({"is_renewal": True}, Decimal("0.015"), False),
    # $1M–<$10M private offer: 2 %.
    ({"total_contract_value": Decimal(2500000)}, Decimal("0.02"), False),
    # CPPO: +0.5 % on the private-offer rate.
    ({"channel": "reseller"}, Decimal("0.035"), False),
])
def test_listing_fee_against_contract_and_schedule(engine: Engine, world: World, changes: dict[str, object],
                                                   schedule: Decimal, matches_schedule: bool) -> None:
    if changes:
        with transaction(engine) as session:
            session.execute(update(Contract).where(Contract.contract_key == "C-ACME-0001").values(**changes))
    with read_only_session(engine) as session:
        (line,) = check_listing_fee(ToolContext.for_exception(session, world.money_case_id)).lines
    assert (line.gross, line.listing_fee, line.observed_rate, line.contracted_rate) == (
        Decimal(100), Decimal(3), Decimal("0.03"), Decimal("0.03"))
    assert (line.schedule_rate, line.matches_schedule, line.matches_contract) == (schedule, matches_schedule, True)
    assert (line.expected_fee, line.fee_difference, line.contract_key) == (Decimal(3), Decimal(0), "C-ACME-0001")
    assert "be-acme-fee" in line.billing_event_ids
