"""Collection and payout of marketplace invoices: AWS disburses 35–45 days after the invoice
(net-30 terms), DISBURSED rows offset their INVOICED parents and point to one payout row,
whose bank trace matches the disbursement in our bank account."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from billing.money import quantize
from billing.scenarios.ids import sub_rng
from billing.scenarios.marketplace import BILLING_EVENT_COLUMNS, money_text, stamp
from billing.scenarios.model import CashPlan, MarketplaceInvoice
from billing.scenarios.world import World

DISBURSEMENT_CURRENCY = "USD"  # the seller's bank account; AWS converts other offer currencies
AWS_PAYER = "Amazon Web Services, Inc."


def plan_marketplace_cash(world: World) -> None:
    """When each invoice's money lands (before faults change how much, or whether)."""
    for inv in world.marketplace_invoices:
        rng = sub_rng(world.seed, "cash", inv.invoice_id)
        inv.cash = CashPlan(pay_date=inv.invoice_date + timedelta(days=rng.randint(35, 45)))


def disbursable_rows(inv: MarketplaceInvoice) -> list[dict[str, Any]]:
    """The balance-impacting INVOICED rows AWS pays out (refunds and credits included)."""
    return [r for r in inv.events if r["action"] == "INVOICED" and r["balance_impacting"] == "1"]


def expected_net(inv: MarketplaceInvoice) -> Decimal:
    """Net billed for the seller: Σ of the disbursable rows."""
    return sum((Decimal(r["amount"]) for r in disbursable_rows(inv)), Decimal(0))


def disbursement_rows(
    world: World, inv: MarketplaceInvoice
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The DISBURSED rows, the payout row (and a failure row) of `inv`, and our bank receipt."""
    cash = inv.cash
    if cash is None or not inv.issued or inv.forgiven or not cash.disburse:
        return [], None
    c = inv.contract
    payout_id = world.ids.billing_event_id()
    pay_day = cash.pay_date.isoformat()
    rows: list[dict[str, Any]] = []
    for parent in disbursable_rows(inv):
        if parent["line_item_id"] in cash.undisbursed_lines:
            continue
        row = dict(parent)
        row.update(
            billing_event_id=world.ids.billing_event_id(),
            action="DISBURSED",
            amount=money_text(-Decimal(parent["amount"]), c.currency),
            parent_billing_event_id=parent["billing_event_id"],
            disbursement_billing_event_id=payout_id,
            action_date=pay_day,
            valid_from=stamp(cash.pay_date),
            update_date=stamp(cash.pay_date),
        )
        rows.append(row)
    total = sum((Decimal(r["amount"]) for r in rows), Decimal(0)) + cash.payout_delta
    trace = world.ids.bank_trace_id()
    payout: dict[str, Any] = dict.fromkeys(BILLING_EVENT_COLUMNS, "")
    payout.update(
        billing_event_id=payout_id,
        from_account_id=world.aws_billing_account_id,
        to_account_id=world.seller_account_id,
        action="DISBURSED",
        transaction_type="DISBURSEMENT",
        amount=money_text(total, c.currency),
        currency=c.currency,
        balance_impacting="1",
        bank_trace_id=trace,
        catalog="AWSMarketplace",
        action_date=pay_day,
        recipient_account_id=world.seller_account_id,
        disbursement_reference_number=world.ids.reference("DISB"),
        valid_from=stamp(cash.pay_date),
        update_date=stamp(cash.pay_date),
    )
    received = total
    currency = c.currency
    if c.currency != DISBURSEMENT_CURRENCY:
        converted = quantize(
            total * world.fx.usd_per_unit(c.currency, cash.pay_date) * cash.fx_factor,
            DISBURSEMENT_CURRENCY,
        )
        payout.update(
            disbursement_amount=format(converted, "f"), disbursement_currency=DISBURSEMENT_CURRENCY
        )
        received, currency = converted, DISBURSEMENT_CURRENCY
    rows.append(payout)
    if cash.failed:
        failed_on = cash.pay_date + timedelta(days=3)
        failure = dict(payout)
        failure.update(
            billing_event_id=world.ids.billing_event_id(),
            transaction_type="DISBURSEMENT_FAILURE",
            amount=money_text(-total, c.currency),
            parent_billing_event_id=payout_id,
            disbursement_billing_event_id=payout_id,
            action_date=failed_on.isoformat(),
            valid_from=stamp(failed_on),
            update_date=stamp(failed_on),
        )
        if payout["disbursement_amount"]:
            failure["disbursement_amount"] = format(-Decimal(payout["disbursement_amount"]), "f")
        rows.append(failure)
        return rows, None  # the money bounced: nothing reached the bank
    if not cash.receipt or received >= 0:  # payouts are negative; nothing to receive otherwise
        return rows, None
    receipt = {
        "payment_id": "",
        "account_key": c.account.account_key,
        "channel": c.channel,
        "kind": "disbursement",
        "currency": currency,
        "amount": format(-received, "f"),
        "received_date": pay_day,
        "invoice_number": inv.ledger_number,
        "bank_trace_id": trace,
        "payer": AWS_PAYER,
        "remittance_note": f"AWS Marketplace disbursement {payout['disbursement_reference_number']}",
    }
    return rows, receipt
