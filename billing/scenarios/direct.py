"""Our own ledger: direct invoices and the customers' payments, the invoices Azure and Google
bill on our behalf (and their payouts), and our record of each AWS invoice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from billing.money import quantize
from billing.scenarios.calendar import add_months, first_day
from billing.scenarios.contracts import MARKETPLACE_FEE
from billing.scenarios.ids import sub_rng
from billing.scenarios.marketplace import price_line
from billing.scenarios.model import CashPlan, Contract, LedgerInvoice
from billing.scenarios.world import World

PAYERS = {"azure_marketplace": "Microsoft Corporation", "gcp_marketplace": "Google LLC"}


def our_usage(world: World, contract: Contract, dimension: str, period: str) -> int:
    """Σ of our hourly usage of a contract × dimension in a month."""
    hours = world.usage.get((contract.contract_key, dimension))
    if hours is None:
        return 0
    rng = world.timeline.hour_range(period)
    return sum(hours[rng.start : rng.stop])


def bill_from_usage(
    world: World, contract: Contract, period: str, number: str
) -> LedgerInvoice | None:
    """An invoice of our usage at the contracted rates (None when nothing was used)."""
    lines = []
    for dim in contract.product.dimensions:
        quantity = our_usage(world, contract, dim.key, period)
        if quantity:
            lines.append(price_line(contract, dim.key, quantity, contract.rates[dim.key], ""))
    if not lines:
        return None
    for n, line in enumerate(lines, start=1):
        line.line_item_id = str(n)
    issue = first_day(add_months(period, 1))
    return LedgerInvoice(
        number,
        contract.account,
        contract,
        contract.channel,
        period,
        contract.currency,
        issue,
        issue + timedelta(days=contract.payment_terms_days),
        lines,
    )


def build_ledger(world: World) -> None:
    """Direct and Azure/Google invoices from our usage, each with when it will be paid."""
    for contract in world.contracts:
        if contract.is_aws:
            continue
        for period in world.timeline.periods:
            if not contract.active_in(period):
                continue
            invoice = bill_from_usage(world, contract, period, world.invoice_numbers(period))
            if invoice is None:
                continue
            rng = sub_rng(world.seed, "collect", invoice.invoice_number)
            late = rng.randint(-6, 10) if contract.channel == "direct" else rng.randint(5, 15)
            invoice.cash = CashPlan(pay_date=invoice.due_date + timedelta(days=late))
            world.ledger.append(invoice)


def mirror_marketplace(world: World) -> None:
    """Our record of every invoice AWS issued for us (same lines; partner_invoice_id links them)."""
    for inv in world.marketplace_invoices:
        if not inv.issued:
            continue
        world.ledger.append(
            LedgerInvoice(
                inv.ledger_number,
                inv.contract.account,
                inv.contract,
                inv.contract.channel,
                inv.period,
                inv.contract.currency,
                inv.invoice_date,
                inv.due_date,
                inv.lines,
                partner_invoice_id=inv.invoice_id,
            )
        )


def ledger_payment(world: World, invoice: LedgerInvoice) -> dict[str, Any] | None:
    """The payment a direct customer (or Azure/Google, net of its fee) made for `invoice`."""
    cash = invoice.cash
    if cash is None or cash.paid_fraction == 0:
        return None
    c = invoice.contract
    if c.channel == "direct":
        amount = quantize(invoice.total * cash.paid_fraction, invoice.currency)
        kind, payer, note = "customer_payment", c.account.name, f"Payment {invoice.invoice_number}"
    else:
        fee = MARKETPLACE_FEE.get(c.channel, Decimal(0))
        amount = quantize(invoice.total * (1 - fee) * cash.paid_fraction, invoice.currency)
        kind, payer, note = (
            "disbursement",
            PAYERS.get(c.channel, ""),
            f"Marketplace payout for {invoice.invoice_number}",
        )
    return {
        "payment_id": "",
        "account_key": c.account.account_key,
        "channel": c.channel,
        "kind": kind,
        "currency": invoice.currency,
        "amount": format(amount, "f"),
        "received_date": cash.pay_date.isoformat(),
        "invoice_number": invoice.invoice_number,
        "bank_trace_id": world.ids.bank_trace_id(),
        "payer": payer,
        "remittance_note": note,
    }
