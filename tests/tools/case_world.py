"""A small world for bundle and tool tests: October 2026 of two AWS Marketplace accounts.

ACME-0001 has every kind of record a case can need (usage around both period boundaries,
partner usage, metering failures, billing events linked by parent and payout ids, invoices,
credit notes, refunds, payments, FX rates, messages, an earlier exception). GLOBEX-0002 is
the other tenant: its records sit next to ACME's (same payout, same days) and must never
show up in ACME's case. Built with reconcile helper A's factories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from billing.models import CreditNote, Discrepancy, FxRate, Message, Payment, RefundRequest, utcnow
from tests.billing.reconcile.factories import (
    Line,
    add_billing_event,
    add_invoice,
    add_metering,
    add_partner_usage,
    add_usage,
    make_account,
    make_agreement,
    make_contract,
    make_product,
    utc,
)

PERIOD = "2026-10"
GAP_HOUR = "2026-10-15T03:00:00Z"


@dataclass(frozen=True)
class World:
    """Ids and keys of what `build_world` created."""

    acme_id: int
    globex_id: int
    case_id: int  # ACME's usage_shortfall exception (October 2026, api_calls)
    money_case_id: int  # ACME's short_disbursed exception (no product)
    globex_case_id: int
    earlier_case_id: int  # ACME's September exception, closed
    payout_id: str
    globex_event_id: str
    globex_invoice: str
    acme_direct_invoice: str


def _hours(day: date, quantities: dict[int, str]) -> dict[datetime, str]:
    return {datetime(day.year, day.month, day.day, h, tzinfo=UTC): q for h, q in quantities.items()}


def build_world(session: Session) -> World:
    """Create both accounts' records and exceptions; returns their ids."""
    acme = make_account(session)
    product = make_product(session)
    contract = make_contract(session, acme, product, total_contract_value="250000")
    make_agreement(session, acme, agreement_id="agmt-acme0000prev00000000000", status="SUPERSEDED",
                   start_time=utc(2025, 1, 1), end_time=utc(2026, 1, 1))
    make_agreement(session, acme, preceding_agreement_id="agmt-acme0000prev00000000000", intent="REPLACE")
    direct = make_contract(session, acme, product, contract_key="C-ACME-DIRECT", channel="direct",
                           agreement_id=None, offer_id=None, listing_fee_rate=None, is_private_offer=False)

    globex = make_account(session, "GLOBEX-0002", aws_account_id="444455556666",
                          aws_customer_identifier="cust-globex-0002")
    make_contract(session, globex, product, contract_key="C-GLOBEX-0002",
                  agreement_id="agmt-globex000aaaaaaaaaaaaaa", offer_id="offer-globex00aaaaaaaaaaa")
    make_agreement(session, globex, agreement_id="agmt-globex000aaaaaaaaaaaaaa", offer_id="offer-globex00aaaaaaaaaaa")

    # Our usage: both boundary days hour by hour (zeros included), mid-month, and the days either side.
    usage = {
        **_hours(date(2026, 9, 30), {22: "40", 23: "60"}),
        **_hours(date(2026, 10, 1), {h: str(10 + h) for h in range(24)}),
        **_hours(date(2026, 10, 15), {2: "5", 3: "7", 4: "0"}),
        **_hours(date(2026, 10, 20), {10: "8"}),
        **_hours(date(2026, 10, 31), {h: "0" if h < 18 else str(h) for h in range(24)}),
        **_hours(date(2026, 11, 1), {0: "9", 1: "4"}),
    }
    add_usage(session, acme, product, "api_calls", usage)
    add_usage(session, acme, product, "storage_gb", _hours(date(2026, 10, 1), {0: "1.5", 1: "2.25"}))
    add_usage(session, globex, product, "api_calls", _hours(date(2026, 10, 1), {0: "999"}))
    # The partner missed the last hours of October 31st (they land on November 1st).
    add_partner_usage(session, acme, product, "api_calls", {
        date(2026, 9, 30): "100", date(2026, 10, 1): str(sum(10 + h for h in range(24))),
        date(2026, 10, 15): "12", date(2026, 10, 20): "8", date(2026, 10, 31): "60", date(2026, 11, 1): "136"})
    add_partner_usage(session, globex, product, "api_calls", {date(2026, 10, 1): "999"},
                      offer_id="offer-globex00aaaaaaaaaaa")
    # Metering: Success for hours with usage, except two hours AWS never processed and one duplicate.
    sent = {h: q for h, q in usage.items() if Decimal(q) > 0 and h.month == 10}
    unprocessed = {utc(2026, 10, 31, 22): "22", utc(2026, 10, 31, 23): "23"}
    add_metering(session, acme, product, "api_calls", {h: q for h, q in sent.items() if h not in unprocessed})
    add_metering(session, acme, product, "api_calls", unprocessed, status="Unprocessed")
    add_metering(session, acme, product, "api_calls", {utc(2026, 10, 1, 5): "15"}, status="DuplicateRecord")
    add_metering(session, globex, product, "api_calls", {utc(2026, 10, 1, 0): "999"}, status="CustomerNotSubscribed")

    # Billing events: invoice inv-aws-0001 (gross, listing fee, tax), its disbursement, the payout
    # (shared with GLOBEX), a refund, and a withdrawn row that is no longer current.
    ev = {"invoice_id": "inv-aws-0001", "agreement_id": "agmt-acme0001aaaaaaaaaaaaaa"}
    add_billing_event(session, acme, product, billing_event_id="be-acme-gross", amount="100", **ev)
    add_billing_event(session, acme, product, billing_event_id="be-acme-fee", amount="-3",
                      transaction_type="AWS_REV_SHARE", **ev)
    add_billing_event(session, acme, product, billing_event_id="be-acme-tax", amount="20.60",
                      transaction_type="AWS_TAX_SHARE", **ev)
    add_billing_event(session, acme, product, billing_event_id="be-acme-refund", amount="-10",
                      transaction_type="SELLER_REV_SHARE_REFUND", **ev)
    payout = add_billing_event(session, None, None, billing_event_id="be-payout-1", amount="-4000",
                               transaction_type="DISBURSEMENT", action="DISBURSED", invoice_id=None,
                               invoice_date=None, usage_period_start_date=None, usage_period_end_date=None,
                               bank_trace_id="TRACE-777", action_date=date(2026, 12, 5))
    add_billing_event(session, acme, product, billing_event_id="be-acme-disb", amount="-90", action="DISBURSED",
                      parent_billing_event_id="be-acme-gross", disbursement_billing_event_id="be-payout-1",
                      usage_period_start_date=None, usage_period_end_date=None, invoice_date=None,
                      action_date=date(2026, 12, 5), disbursement_amount=Decimal("83.7"),
                      disbursement_currency="EUR", **ev)
    add_billing_event(session, acme, product, billing_event_id="be-acme-withdrawn", amount="55",
                      delete_date=utc(2026, 11, 20), **ev)
    globex_event = add_billing_event(session, globex, product, billing_event_id="be-globex-disb", amount="-3910",
                                     action="DISBURSED", invoice_id="inv-aws-9999",
                                     disbursement_billing_event_id="be-payout-1")
    add_billing_event(session, globex, product, billing_event_id="be-globex-gross", amount="3910",
                      invoice_id="inv-aws-9999")

    # Our invoices: a direct one (with lines) and the mirror of the marketplace invoice.
    direct_inv = add_invoice(session, acme, invoice_number="INV-2026-10-0001", contract=direct,
                             lines=[Line("7x1k2m9q4w8e3r6t5y0u1i2o3", "api_calls", "1000", "0.002"),
                                    Line("7x1k2m9q4w8e3r6t5y0u1i2o3", "storage_gb", "10", "0.10", "0.30")])
    add_invoice(session, acme, invoice_number="INV-2026-10-AWS1", contract=contract, channel="aws_marketplace",
                partner_invoice_id="inv-aws-0001", lines=[Line(None, None, "1", "100")])
    add_invoice(session, globex, invoice_number="INV-2026-10-GLBX", channel="direct",
                lines=[Line(None, None, "1", "500")])
    session.add_all([
        CreditNote(credit_note_number="CN-0001", account_id=acme.id, invoice_number="INV-2026-10-0001",
                   currency="USD", amount=Decimal("0.50"), issue_date=date(2026, 11, 10), reason="goodwill"),
        CreditNote(credit_note_number="CN-GLBX", account_id=globex.id, invoice_number="INV-2026-10-GLBX",
                   currency="USD", amount=Decimal(5), issue_date=date(2026, 11, 10), reason="goodwill"),
        RefundRequest(request_id="RR-0001", account_id=acme.id, channel="aws_marketplace",
                      partner_invoice_id="inv-aws-0001", currency="USD", amount=Decimal(10), status="approved",
                      requested_date=date(2026, 11, 12), approved_date=date(2026, 11, 13), reason="duplicate"),
        Payment(payment_id="PAY-0001", account_id=acme.id, channel="direct", kind="customer_payment",
                currency="USD", amount=Decimal("2.60"), received_date=date(2026, 12, 1),
                invoice_number="INV-2026-10-0001", payer="Acme Corp", remittance_note="INV-2026-10-0001"),
        Payment(payment_id="PAY-DISB-777", account_id=None, channel="aws_marketplace", kind="disbursement",
                currency="USD", amount=Decimal(4000), received_date=date(2026, 12, 6), bank_trace_id="TRACE-777",
                payer="AWS Marketplace"),
        Payment(payment_id="PAY-UNKNOWN", account_id=None, channel="direct", kind="bank_receipt",
                currency="USD", amount=Decimal(77), received_date=date(2026, 11, 20), payer="?"),
        Payment(payment_id="PAY-GLBX", account_id=globex.id, channel="direct", kind="customer_payment",
                currency="USD", amount=Decimal(500), received_date=date(2026, 12, 1),
                invoice_number="INV-2026-10-GLBX"),
        FxRate(rate_date=date(2026, 12, 5), currency="EUR", usd_per_unit=Decimal("1.0753")),
        FxRate(rate_date=date(2026, 10, 1), currency="EUR", usd_per_unit=Decimal("1.08")),
        FxRate(rate_date=date(2026, 10, 1), currency="GBP", usd_per_unit=Decimal("1.27")),
    ])
    session.flush()

    case = _exception(
        session, acme.id, "usage_vs_partner_usage:usage_shortfall:2026-10:1:api_calls", "usage_vs_partner_usage",
        "usage_shortfall", product_code=product.product_code, dimension_key="api_calls",
        expected_quantity="1126", observed_quantity="1008", expected_amount="2.252", observed_amount="2.016",
        record_refs={"partner_usage": ["uf-111122223333-api_calls-20261031-us-east-1"],
                     "contracts": ["C-ACME-0001"]},
        details={"gap_hours": [GAP_HOUR], "boundary": {"last_hours": ["2026-10-31T22:00:00Z"]},
                 "ours": "1126", "partner": "1008"})
    money_case = _exception(
        session, acme.id, "disbursed_vs_invoiced:short_disbursed:2026-10:1", "disbursed_vs_invoiced",
        "short_disbursed", expected_amount="107", observed_amount="90",
        record_refs={"billing_events": ["be-acme-gross", "be-acme-disb"]}, details={})
    earlier = _exception(
        session, acme.id, "metering_gaps:metering_missing_hours:2026-09:1:api_calls", "metering_gaps",
        "metering_missing_hours", period="2026-09", status="closed", close_reason="difference vanished")
    globex_case = _exception(
        session, globex.id, "metering_not_accepted:metering_customer_not_subscribed:2026-10:2:api_calls",
        "metering_not_accepted", "metering_customer_not_subscribed", product_code=product.product_code,
        dimension_key="api_calls")
    session.add_all([
        Message(message_id="msg-acme-1", account_id=acme.id, exception_id=case.id, channel="aws_marketplace",
                sender="seller-ops@aws.example", sender_role="partner", received_at=utc(2026, 11, 3, 9),
                subject="Usage for October", body="Our feed shows 1008 api_calls for October."),
        Message(message_id="msg-acme-2", account_id=acme.id, channel="direct", sender="ap@acme.example",
                sender_role="customer", received_at=utc(2026, 11, 25, 14), subject="Remittance",
                body="Paid INV-2026-10-0001 less the credit."),
        Message(message_id="msg-globex-1", account_id=globex.id, channel="aws_marketplace",
                sender="ap@globex.example", sender_role="customer", received_at=utc(2026, 11, 4, 10),
                subject="Globex secret", body="GLOBEX ONLY"),
    ])
    session.flush()
    return World(acme_id=acme.id, globex_id=globex.id, case_id=case.id, money_case_id=money_case.id,
                 globex_case_id=globex_case.id, earlier_case_id=earlier.id, payout_id=payout.billing_event_id,
                 globex_event_id=globex_event.billing_event_id, globex_invoice="INV-2026-10-GLBX",
                 acme_direct_invoice=direct_inv.invoice_number)


def _exception(session: Session, account_id: int, natural_key: str, rule: str, kind: str, *,
               period: str = PERIOD, status: str = "open", close_reason: str | None = None,
               product_code: str | None = None, dimension_key: str | None = None,
               expected_quantity: str | None = None, observed_quantity: str | None = None,
               expected_amount: str | None = None, observed_amount: str | None = None,
               record_refs: dict[str, list[str]] | None = None, details: dict[str, object] | None = None,
               ) -> Discrepancy:
    def dec(v: str | None) -> Decimal | None:
        return None if v is None else Decimal(v)

    now = utcnow().replace(microsecond=0) - timedelta(days=1)
    exp_a, obs_a, exp_q, obs_q = dec(expected_amount), dec(observed_amount), dec(expected_quantity), dec(observed_quantity)
    row = Discrepancy(
        natural_key=natural_key, rule=rule, kind=kind, status=status, account_id=account_id,
        channel="aws_marketplace", period=period, product_code=product_code, dimension_key=dimension_key,
        currency="USD", expected_amount=exp_a, observed_amount=obs_a,
        delta_amount=None if exp_a is None or obs_a is None else obs_a - exp_a,
        expected_quantity=exp_q, observed_quantity=obs_q,
        delta_quantity=None if exp_q is None or obs_q is None else obs_q - exp_q,
        record_refs=record_refs or {}, details=details or {}, description=f"{kind} for {period}",
        evidence_hash="h" * 64, first_seen_at=now, last_seen_at=now, updated_at=now,
        closed_at=now if status == "closed" else None, close_reason=close_reason, source="reconcile")
    session.add(row)
    session.flush()
    return row


def wipe(engine: Engine) -> None:
    """Empty every table (a fresh database for an import), the append-only audit trail aside."""
    from billing.models import Base

    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "audit_events":
                conn.execute(table.delete())
