"""Faults on the invoicing path, one function per category: what AWS invoiced (fees, tax, resale
price, credits, refunds, forgiveness) or failed to invoice, and a customer billed twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from billing.money import quantize
from billing.scenarios.calendar import add_months, first_day
from billing.scenarios.direct import bill_from_usage
from billing.scenarios.faults.base import Effect, Target, money
from billing.scenarios.marketplace import (
    base_event,
    find_invoice,
    money_text,
    price_line,
    reissue,
    stamp,
)
from billing.scenarios.model import CashPlan, Contract, MarketplaceInvoice
from billing.scenarios.world import World

_FEE_OPTIONS = (Decimal("0.03"), Decimal("0.035"), Decimal("0.02"), Decimal("0.05"))


def _invoice(world: World, t: Target) -> MarketplaceInvoice | None:
    inv = find_invoice(world, t.contract, t.period)
    return inv if inv is not None and inv.issued and inv.gross > 0 else None


def inject_listing_fee_mismatch(world: World, t: Target) -> Effect | None:
    """AWS charged a listing fee off the schedule the contract was signed under."""
    c = t.contract
    inv = _invoice(world, t)
    if inv is None:
        return None
    contracted = inv.fee_rate
    if c.is_renewal:
        wrong, why = Decimal("0.03"), "the renewal rate (1.5 %) was not applied"
    elif contracted in (Decimal("0.02"), Decimal("0.015"), Decimal("0.025"), Decimal("0.02")):
        wrong, why = Decimal("0.03"), "the contract-value tier was not applied"
    elif c.is_cppo:
        wrong, why = contracted + Decimal("0.005"), "the CPPO surcharge was added twice"
    else:
        wrong = next(o for o in _FEE_OPTIONS if abs(o - contracted) > Decimal("0.0005"))
        why = "a rate from another offer type was used"
    inv.fee_rate = wrong
    reissue(world, inv)
    amount = money(inv.gross * wrong - inv.gross * contracted, c.currency)
    return t.effect(
        "listing_fee_mismatch",
        ["listing_fee_vs_contract"],
        ["listing_fee_rate_mismatch"],
        amount,
        f"Invoice {inv.invoice_id}: listing fee charged at {wrong * 100}% instead of the contracted "
        f"{contracted * 100}% ({why}).",
    )


def inject_reseller_margin_mismatch(world: World, t: Target) -> Effect | None:
    """The CPPO resale rows carry a deeper wholesale discount than the one we authorised."""
    c, rng = t.contract, t.rng
    inv = _invoice(world, t)
    if inv is None or c.wholesale_discount_pct is None:
        return None
    authorised = c.wholesale_discount_pct
    applied = authorised + Decimal(rng.choice(("0.05", "0.10")))
    before = inv.gross
    inv.lines = [
        price_line(
            c,
            ln.dimension_key,
            int(ln.quantity),
            world.billed_rate(c, ln.dimension_key, t.period) * (1 - applied),
            ln.line_item_id,
        )
        for ln in inv.lines
    ]
    reissue(world, inv)
    amount = money(before - inv.gross, c.currency)
    return t.effect(
        "reseller_margin_mismatch",
        ["reseller_wholesale"],
        ["wholesale_price_mismatch"],
        amount,
        f"{c.reseller_name} was charged wholesale at {applied * 100}% off instead of the authorised "
        f"{authorised * 100}% on invoice {inv.invoice_id}.",
    )


def inject_tax_discrepancy(world: World, t: Target) -> Effect | None:
    """The feed books the tax to the wrong party, or at another rate than our invoice."""
    c, rng = t.contract, t.rng
    inv = _invoice(world, t)
    if inv is None or c.tax_party not in ("aws", "seller"):
        return None
    ours = sum((ln.tax_amount for ln in inv.lines), Decimal(0))
    if rng.random() < 0.5 and ours:
        wrong_party = "SELLER_TAX_SHARE" if c.tax_party == "aws" else "AWS_TAX_SHARE"
        reissue(world, inv, tax_type=wrong_party)
        return t.effect(
            "tax_discrepancy",
            ["tax_treatment"],
            ["tax_party_mismatch", "tax_amount_mismatch"],
            ours,
            f"Invoice {inv.invoice_id}: tax booked as {wrong_party} although the contract says tax is collected by "
            f"{c.tax_party}.",
        )
    other_rate = c.tax_rate + Decimal(rng.choice(("0.02", "0.025", "-0.01")))
    amounts = {ln.line_item_id: quantize(ln.amount * other_rate, c.currency) for ln in inv.lines}
    reissue(world, inv, tax_amounts=amounts)
    theirs = sum(amounts.values(), Decimal(0))
    return t.effect(
        "tax_discrepancy",
        ["tax_treatment"],
        ["tax_amount_mismatch"],
        theirs - ours,
        f"Invoice {inv.invoice_id}: tax rows at {other_rate * 100}% while our invoice charges "
        f"{c.tax_rate * 100}% ({c.account.country.code}).",
    )


def inject_credit_misapplied(world: World, t: Target) -> Effect | None:
    """Our credit note says one amount and the marketplace applied another; or, on a direct
    contract, a credit note larger than the invoice it is booked against."""
    c, rng = t.contract, t.rng
    if c.channel == "direct":
        return _direct_credit_beyond_invoice(world, t)
    inv = _invoice(world, t)
    if inv is None:
        return None
    credit = quantize(inv.gross * Decimal(rng.choice(("0.03", "0.05", "0.08"))), c.currency)
    applied = credit * rng.choice(
        (2, 5)
    )  # applied twice, or a slipped digit; the payout stays positive
    world.credit_notes.append(
        {
            "credit_note_number": "",
            "account_key": c.account.account_key,
            "invoice_number": inv.ledger_number,
            "currency": c.currency,
            "amount": format(credit, "f"),
            "issue_date": inv.invoice_date.isoformat(),
            "reason": "SLA credit: service degradation",
        }
    )
    inv.events.append(
        base_event(
            world,
            inv,
            from_account_id=world.seller_account_id,
            to_account_id=c.account.aws_account_id or "",
            action="INVOICED",
            transaction_type="SELLER_REV_SHARE_CREDIT",
            amount=money_text(-applied, c.currency),
            balance_impacting="1",
            line_item_id=world.ids.line_item_id(),
        )
    )
    return t.effect(
        "credit_misapplied",
        ["credits_vs_credit_notes"],
        ["credit_mismatch"],
        applied - credit,
        f"Credit note for {credit} {c.currency} on invoice {inv.invoice_id}; the marketplace applied {applied}.",
    )


def _direct_credit_beyond_invoice(world: World, t: Target) -> Effect | None:
    c, rng = t.contract, t.rng
    invoice = next((i for i in world.ledger if i.contract is c and i.period == t.period), None)
    if invoice is None or invoice.cash is None:
        return None
    credit = quantize(invoice.total * Decimal(rng.choice(("1.15", "1.4", "2.5"))), c.currency)
    invoice.cash.paid_fraction = Decimal(
        0
    )  # the customer treats the invoice as settled by the credit
    world.credit_notes.append(
        {
            "credit_note_number": "",
            "account_key": c.account.account_key,
            "invoice_number": invoice.invoice_number,
            "currency": c.currency,
            "amount": format(credit, "f"),
            "issue_date": (invoice.issue_date + timedelta(days=rng.randint(3, 15))).isoformat(),
            "reason": "Service credit per QBR (annual fee basis)",
        }
    )
    return t.effect(
        "credit_misapplied",
        ["credits_vs_credit_notes"],
        ["credit_mismatch"],
        credit - invoice.total,
        f"Credit note of {credit} {c.currency} booked against invoice {invoice.invoice_number} whose total "
        f"is {invoice.total}: the credit was computed on the annual fee, not the month.",
        reference=invoice.invoice_number,
    )


def inject_refund_discrepancy(world: World, t: Target) -> Effect | None:
    """A refund AWS paid out without our approval, or one we approved that never happened."""
    c, rng = t.contract, t.rng
    inv = _invoice(world, t)
    if inv is None:
        return None
    refund = quantize(inv.gross * Decimal(rng.choice(("0.15", "0.25", "0.4", "0.5"))), c.currency)
    when = inv.invoice_date + timedelta(days=rng.randint(4, 20))
    request = {
        "request_id": "",
        "account_key": c.account.account_key,
        "channel": c.channel,
        "partner_invoice_id": inv.invoice_id,
        "currency": c.currency,
        "amount": format(refund, "f"),
        "requested_date": when.isoformat(),
        "approved_date": "",
        "reason": "Customer dispute",
    }
    if rng.random() < 0.55:
        if rng.random() < 0.5:  # a request exists, but was never approved
            world.refunds.append({**request, "status": rng.choice(("requested", "rejected"))})
        for ttype, amt in (
            ("SELLER_REV_SHARE_REFUND", -refund),
            ("AWS_REV_SHARE_REFUND", quantize(refund * inv.fee_rate, c.currency)),
        ):
            if amt:
                inv.events.append(
                    base_event(
                        world,
                        inv,
                        from_account_id=world.seller_account_id,
                        to_account_id=c.account.aws_account_id or "",
                        action="INVOICED",
                        transaction_type=ttype,
                        amount=money_text(amt, c.currency),
                        balance_impacting="1",
                        line_item_id=world.ids.line_item_id(),
                        action_date=when.isoformat(),
                        valid_from=stamp(when),
                        update_date=stamp(when),
                    )
                )
        kind, note = (
            "refund_without_approval",
            f"AWS refunded {refund} {c.currency} on invoice {inv.invoice_id} without an approved refund request.",
        )
    else:
        world.refunds.append(
            {
                **request,
                "status": "approved",
                "approved_date": (when + timedelta(days=2)).isoformat(),
            }
        )
        kind, note = (
            "approved_refund_missing",
            f"Refund of {refund} {c.currency} on invoice {inv.invoice_id} was approved but never processed.",
        )
    return t.effect(
        "refund_discrepancy",
        ["refunds_vs_approvals"],
        [kind],
        refund,
        note,
    )


def inject_forgiven_charge(world: World, t: Target) -> Effect | None:
    """AWS forgave the invoice (the buyer never paid): the charge is reverted and nothing disbursed."""
    c = t.contract
    inv = _invoice(world, t)
    if inv is None:
        return None
    forgiven_on = inv.due_date + timedelta(days=t.rng.randint(10, 25))
    for parent in [
        r for r in inv.events if r["action"] == "INVOICED" and r["balance_impacting"] == "1"
    ]:
        row = dict(parent)
        row.update(
            billing_event_id=world.ids.billing_event_id(),
            action="FORGIVEN",
            amount=money_text(-Decimal(parent["amount"]), c.currency),
            parent_billing_event_id=parent["billing_event_id"],
            action_date=forgiven_on.isoformat(),
            valid_from=stamp(forgiven_on),
            update_date=stamp(forgiven_on),
        )
        inv.events.append(row)
    inv.forgiven = True
    net = sum(
        (
            Decimal(r["amount"])
            for r in inv.events
            if r["action"] == "INVOICED" and r["balance_impacting"] == "1"
        ),
        Decimal(0),
    )
    return t.effect(
        "forgiven_charge",
        ["forgiven_charges", "disbursed_vs_invoiced"],
        ["charge_forgiven", "undisbursed"],
        net,
        f"AWS forgave invoice {inv.invoice_id} on {forgiven_on} (buyer did not pay); the revenue is lost.",
    )


def inject_missing_invoice(world: World, t: Target) -> Effect | None:
    """Usage with no invoice: AWS skipped the month, or we never issued the direct invoice."""
    c = t.contract
    if c.channel == "direct":
        invoice = next((i for i in world.ledger if i.contract is c and i.period == t.period), None)
        if invoice is None:
            return None
        world.ledger.remove(invoice)
        return t.effect(
            "missing_invoice",
            ["usage_without_invoice"],
            ["not_invoiced"],
            invoice.subtotal,
            f"No invoice was issued for {t.period}: the billing run skipped the contract after a CRM edit.",
        )
    inv = _invoice(world, t)
    if inv is None:
        return None
    inv.issued = False
    inv.events = []
    return t.effect(
        "missing_invoice",
        ["usage_without_invoice"],
        ["not_invoiced"],
        inv.gross,
        f"AWS issued no invoice for {t.period} although usage was accepted for agreement {c.agreement_id}.",
    )


def inject_channel_conflict(world: World, t: Target) -> Effect | None:
    """The customer moved to the marketplace, but the old direct contract billed the month again."""
    c = t.contract
    if _invoice(world, t) is None:
        return None
    legacy = Contract(
        contract_key=f"{c.contract_key}-DIRECT",
        account=c.account,
        product=c.product,
        channel="direct",
        currency=c.currency,
        start_date=first_day(add_months(f"{c.start_date:%Y-%m}", -24)),
        end_date=c.start_date - timedelta(days=1),
        is_private_offer=False,
        is_renewal=False,
        rates={k: (v * Decimal("1.08")).quantize(Decimal("0.000001")) for k, v in c.rates.items()},
        tax_party="seller" if c.tax_rate else "none",
        tax_rate=c.tax_rate,
    )
    world.contracts.append(legacy)
    number = world.invoice_numbers(t.period)
    invoice = bill_from_usage(world, c, t.period, number)
    if invoice is None:
        return None
    invoice.contract, invoice.channel = legacy, "direct"
    invoice.lines = [
        price_line(
            legacy,
            ln.dimension_key,
            int(ln.quantity),
            legacy.rates[ln.dimension_key],
            ln.line_item_id,
        )
        for ln in invoice.lines
    ]
    invoice.cash = CashPlan(pay_date=invoice.due_date - timedelta(days=2))
    world.ledger.append(invoice)
    return t.effect(
        "channel_conflict",
        ["channel_overlap"],
        ["billed_in_two_channels"],
        invoice.total,
        f"{t.period} usage was billed through AWS and again on direct invoice {number} from the legacy "
        f"contract {legacy.contract_key}; the customer paid both.",
        reference=number,
    )
