"""Faults on the cash path, one function per category: money collected or paid out short, payouts
that fail or do not add up, conversions off the day's rate, and cash nobody can apply."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from billing.money import quantize
from billing.scenarios.calendar import first_day
from billing.scenarios.disbursement import DISBURSEMENT_CURRENCY, disbursable_rows, expected_net
from billing.scenarios.faults.base import Effect, Target, money
from billing.scenarios.fx import BASE_USD_PER_UNIT
from billing.scenarios.marketplace import find_invoice
from billing.scenarios.model import MarketplaceInvoice
from billing.scenarios.world import World

# How a bank statement names a remitter it cannot tie to a customer.
UNKNOWN_PAYERS = (
    "J. SMITH HOLDINGS",
    "ACCT 4471 TRANSFER",
    "NORDIC TRADE SERVICES AB",
    "REF 88213 WIRE IN",
)


def _payable(world: World, t: Target) -> MarketplaceInvoice | None:
    """The target's AWS invoice if its money is on its way (issued, not forgiven, disbursed)."""
    inv = find_invoice(world, t.contract, t.period)
    if inv is None or not inv.issued or inv.forgiven or inv.cash is None or not inv.cash.disburse:
        return None
    return inv if expected_net(inv) > 0 else None


def inject_short_payment(world: World, t: Target, *, partial_only: bool = False) -> Effect | None:
    """Less cash than billed: AWS disbursed part (or none) of an invoice; a customer short-paid.

    `partial_only` keeps some of the payout (so a second fault on the same payout stays visible)."""
    c, rng = t.contract, t.rng
    if c.channel == "direct":
        invoice = next(
            (i for i in world.ledger if i.contract is c and i.period == t.period and i.cash), None
        )
        if invoice is None or invoice.cash is None:
            return None
        unpaid = rng.random() < 0.3
        invoice.cash.paid_fraction = (
            Decimal(0) if unpaid else Decimal(rng.choice(("0.5", "0.9", "0.95")))
        )
        paid = quantize(invoice.total * invoice.cash.paid_fraction, c.currency)
        return t.effect(
            "short_payment",
            ["direct_payments"],
            ["unpaid" if unpaid else "short_paid"],
            invoice.total - paid,
            f"Invoice {invoice.invoice_number} ({invoice.total} {c.currency}) "
            + (
                "is unpaid past its due date."
                if unpaid
                else f"was paid {paid} only; the customer deducted the rest."
            ),
            reference=invoice.invoice_number,
        )
    inv = _payable(world, t)
    if inv is None or inv.cash is None:
        return None
    if not partial_only and rng.random() < 0.4:
        inv.cash.disburse = False
        return t.effect(
            "short_payment",
            ["disbursed_vs_invoiced"],
            ["undisbursed"],
            expected_net(inv),
            f"Invoice {inv.invoice_id} is past due and uncollected: nothing disbursed.",
        )
    sellers = [r for r in disbursable_rows(inv) if r["transaction_type"] == "SELLER_REV_SHARE"]
    if len(sellers) < 2:
        if partial_only:
            return None
        inv.cash.disburse = False
        return t.effect(
            "short_payment",
            ["disbursed_vs_invoiced"],
            ["undisbursed"],
            expected_net(inv),
            f"Invoice {inv.invoice_id} is past due and uncollected: nothing disbursed.",
        )
    line = rng.choice(sellers)["line_item_id"]
    inv.cash.undisbursed_lines.add(line)
    short = sum(
        (Decimal(r["amount"]) for r in disbursable_rows(inv) if r["line_item_id"] == line),
        Decimal(0),
    )
    return t.effect(
        "short_payment",
        ["disbursed_vs_invoiced"],
        ["short_disbursed"],
        short,
        f"Invoice {inv.invoice_id}: the buyer paid only part; line {line} ({short} {c.currency}) was not disbursed.",
    )


def inject_disbursement_failure(world: World, t: Target) -> Effect | None:
    """The payout bounced, does not add up to its rows, or never showed up at the bank."""
    c, rng = t.contract, t.rng
    inv = _payable(world, t)
    if inv is None or inv.cash is None:
        return None
    net = expected_net(inv)
    pick = rng.random()
    if pick < 0.4:
        inv.cash.failed = True
        return t.effect(
            "disbursement_failure",
            ["disbursement_integrity", "disbursed_vs_invoiced"],
            ["disbursement_failed", "undisbursed"],
            net,
            f"The payout for invoice {inv.invoice_id} was returned by the bank (closed account); update the bank "
            "details with AWS.",
        )
    if pick < 0.7:
        delta = quantize(net * Decimal(rng.choice(("0.02", "0.05", "0.1"))), c.currency)
        inv.cash.payout_delta = delta  # payouts are negative: a positive delta pays out less
        return t.effect(
            "disbursement_failure",
            ["disbursement_integrity"],
            ["disbursement_sum_mismatch"],
            delta,
            f"The payout for invoice {inv.invoice_id} is {delta} {c.currency} smaller than the sum of its rows.",
        )
    inv.cash.receipt = False
    return t.effect(
        "disbursement_failure",
        ["disbursement_integrity"],
        ["bank_receipt_missing"],
        net,
        f"The payout for invoice {inv.invoice_id} has a bank trace id that never reached our bank account.",
    )


def inject_fx_variance(world: World, t: Target) -> Effect | None:
    """AWS converted a non-USD payout at a rate off the day's rate by more than the tolerance."""
    c, rng = t.contract, t.rng
    inv = _payable(world, t)
    if inv is None or inv.cash is None or c.currency == DISBURSEMENT_CURRENCY:
        return None
    off = Decimal(rng.choice(("0.012", "0.018", "0.025", "-0.015")))
    inv.cash.fx_factor = 1 - off
    net = expected_net(inv)
    rate = world.fx.usd_per_unit(c.currency, inv.cash.pay_date)
    at_rate = quantize(net * rate, DISBURSEMENT_CURRENCY)
    converted = quantize(net * rate * inv.cash.fx_factor, DISBURSEMENT_CURRENCY)
    return Effect(
        "fx_variance",
        t.period,
        ["fx_conversion"],
        ["fx_difference"],
        money(at_rate - converted, "USD"),
        "USD",
        f"Payout of invoice {inv.invoice_id} converted {net} {c.currency} to {converted} USD; at the day's rate "
        f"it is {at_rate} USD.",
    )


def inject_other(world: World, t: Target) -> Effect | None:
    """Unapplied cash: money at the bank that matches no invoice (a prepayment, or an unknown payer)."""
    c, rng = t.contract, t.rng
    received = first_day(t.period) + timedelta(days=rng.randint(3, 24))
    usd_amount = Decimal(rng.randint(800, 24000)) + Decimal(rng.randint(0, 99)) / 100
    amount = quantize(usd_amount / BASE_USD_PER_UNIT.get(c.currency, Decimal(1)), c.currency)
    unknown = rng.random() < 0.5
    world.extra_payments.append(
        {
            "payment_id": "",
            "account_key": "" if unknown else c.account.account_key,
            "channel": "direct",
            "kind": "bank_receipt" if unknown else "customer_payment",
            "currency": c.currency,
            "amount": format(amount, "f"),
            "received_date": received.isoformat(),
            "invoice_number": "",
            "bank_trace_id": world.ids.bank_trace_id(),
            "payer": rng.choice(UNKNOWN_PAYERS) if unknown else c.account.name,
            "remittance_note": "INV PAYMENT" if unknown else "Prepayment for upcoming services",
        }
    )
    return t.effect(
        "other",
        ["direct_payments"],
        ["unapplied_cash"],
        amount,
        f"{amount} {c.currency} received on {received} matches no invoice"
        + (
            " and the payer is not a known customer."
            if unknown
            else f"; {c.account.name} sent a prepayment."
        ),
        escalate_to="internal" if unknown else "customer",
        unknown_account=unknown,
    )
