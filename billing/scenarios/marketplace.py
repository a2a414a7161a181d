"""AWS Marketplace billing of the AWS-sold contracts: one buyer invoice per contract and month
(billed on the 1st of the next month, due net-30), its listing-fee invoice by the contracted
rate, tax rows by who collects tax, CPPO resale rows at the wholesale price."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from billing.money import quantize
from billing.scenarios.calendar import add_months, first_day, last_day, period_start
from billing.scenarios.model import Contract, Line, MarketplaceInvoice
from billing.scenarios.partner_usage import Daily, billed_quantity
from billing.scenarios.world import World

BILLING_EVENT_COLUMNS: tuple[str, ...] = (
    "billing_event_id",
    "from_account_id",
    "to_account_id",
    "end_user_account_id",
    "product_id",
    "action",
    "transaction_type",
    "parent_billing_event_id",
    "disbursement_billing_event_id",
    "amount",
    "currency",
    "balance_impacting",
    "invoice_date",
    "payment_due_date",
    "usage_period_start_date",
    "usage_period_end_date",
    "invoice_id",
    "billing_address_id",
    "transaction_reference_id",
    "bank_trace_id",
    "broker_id",
    "agreement_id",
    "offer_id",
    "catalog",
    "action_date",
    "buyer_invoice_id",
    "line_item_id",
    "invoice_variant",
    "charge_variant",
    "charge_side",
    "recipient_account_id",
    "disbursement_amount",
    "disbursement_currency",
    "disbursement_reference_number",
    "valid_from",
    "update_date",
    "delete_date",
)


def money_text(amount: Decimal, currency: str) -> str:
    """An amount rounded to the currency's minor unit, as plain decimal text."""
    return format(quantize(amount, currency), "f")


def stamp(day: date) -> str:
    """Midnight UTC of `day` in the feeds' timestamp form."""
    return f"{day.isoformat()}T00:00:00Z"


def unit_price(world: World, contract: Contract, dimension: str, period: str) -> Decimal:
    """What the seller earns per unit: the billed rate, less the wholesale discount for CPPO."""
    rate = world.billed_rate(contract, dimension, period)
    if contract.is_cppo and contract.wholesale_discount_pct is not None:
        return rate * (1 - contract.wholesale_discount_pct)
    return rate


def price_line(
    contract: Contract, dimension: str, quantity: int, price: Decimal, line_item_id: str
) -> Line:
    """A line with its amount and the tax the contract's tax rate puts on it."""
    amount = quantize(Decimal(quantity) * price, contract.currency)
    tax = (
        quantize(amount * contract.tax_rate, contract.currency)
        if contract.tax_party != "none"
        else Decimal(0)
    )
    dim = contract.product.dimension(dimension)
    return Line(dimension, Decimal(quantity), price, amount, tax, line_item_id, dim.description)


def build_marketplace_invoices(world: World, daily: Daily) -> None:
    """One invoice per AWS contract and month with partner-counted usage."""
    for contract in world.contracts:
        if not contract.is_aws:
            continue
        for period in world.timeline.periods:
            lines = []
            for dim in contract.product.dimensions:
                quantity = billed_quantity(daily, (contract.contract_key, dim.key), period)
                if quantity:
                    price = unit_price(world, contract, dim.key, period)
                    lines.append(
                        price_line(contract, dim.key, quantity, price, world.ids.line_item_id())
                    )
            if not lines:
                continue
            invoice_date = first_day(add_months(period, 1))
            world.marketplace_invoices.append(
                MarketplaceInvoice(
                    contract=contract,
                    period=period,
                    invoice_id=world.ids.aws_invoice_id(),
                    fee_invoice_id=world.ids.aws_invoice_id(),
                    ledger_number=world.invoice_numbers(period),
                    invoice_date=invoice_date,
                    due_date=invoice_date + timedelta(days=contract.payment_terms_days),
                    lines=lines,
                    fee_rate=contract.listing_fee_rate or Decimal(0),
                )
            )


def find_invoice(world: World, contract: Contract, period: str) -> MarketplaceInvoice | None:
    """The marketplace invoice of a contract for a month, if AWS billed one."""
    return next(
        (i for i in world.marketplace_invoices if i.contract is contract and i.period == period),
        None,
    )


def base_event(world: World, inv: MarketplaceInvoice, **columns: str) -> dict[str, Any]:
    """A billing_event row of `inv` with the columns every row of the invoice shares."""
    c = inv.contract
    row: dict[str, Any] = dict.fromkeys(BILLING_EVENT_COLUMNS, "")
    row.update(
        billing_event_id=world.ids.billing_event_id(),
        end_user_account_id=c.account.aws_account_id or "",
        product_id=c.product.marketplace_product_id,
        currency=c.currency,
        invoice_date=inv.invoice_date.isoformat(),
        payment_due_date=inv.due_date.isoformat(),
        usage_period_start_date=first_day(inv.period).isoformat(),
        usage_period_end_date=last_day(inv.period).isoformat(),
        invoice_id=inv.invoice_id,
        billing_address_id=f"addr-{c.account.account_key.lower()}",
        transaction_reference_id=world.ids.reference("TXN"),
        agreement_id=world.agreement_in_force(c, period_start(add_months(inv.period, 1))) or "",
        offer_id=c.offer_id or "",
        catalog="AWSMarketplace",
        action_date=inv.invoice_date.isoformat(),
        buyer_invoice_id=inv.invoice_id,
        recipient_account_id=world.seller_account_id,
        valid_from=stamp(inv.invoice_date),
        update_date=stamp(inv.invoice_date),
    )
    if c.is_cppo:
        row.update(
            broker_id=c.reseller_account_id or "",
            invoice_variant="RESALE",
            charge_variant="RESALE",
            charge_side="BUYING",
        )
    else:
        row["invoice_variant"] = "PURCHASE"
    row.update(columns)
    return row


def tax_transaction_type(contract: Contract) -> str | None:
    """Who the feed says collects the tax: AWS (informational row) or the seller (balance-impacting)."""
    return {"aws": "AWS_TAX_SHARE", "seller": "SELLER_TAX_SHARE"}.get(contract.tax_party)


def invoiced_events(
    world: World,
    inv: MarketplaceInvoice,
    tax_type: str | None,
    tax_amounts: dict[str, Decimal] | None = None,
) -> list[dict[str, Any]]:
    """The INVOICED rows of `inv`: gross per line, tax per line, one listing-fee row."""
    c = inv.contract
    buyer = c.account.aws_account_id or ""
    rows: list[dict[str, Any]] = []
    for line in inv.lines:
        rows.append(
            base_event(
                world,
                inv,
                from_account_id=buyer,
                to_account_id=world.seller_account_id,
                action="INVOICED",
                transaction_type="SELLER_REV_SHARE",
                amount=money_text(line.amount, c.currency),
                balance_impacting="1",
                line_item_id=line.line_item_id,
            )
        )
        tax = (tax_amounts or {}).get(line.line_item_id, line.tax_amount)
        if tax_type and tax:
            rows.append(
                base_event(
                    world,
                    inv,
                    from_account_id=buyer,
                    to_account_id=world.seller_account_id,
                    action="INVOICED",
                    transaction_type=tax_type,
                    amount=money_text(tax, c.currency),
                    balance_impacting="1" if tax_type == "SELLER_TAX_SHARE" else "0",
                    line_item_id=line.line_item_id,
                    invoice_variant="TAX_VAT" if c.account.country.code != "US" else "PURCHASE",
                )
            )
    fee = quantize(inv.gross * inv.fee_rate, c.currency)
    if fee:
        rows.append(
            base_event(
                world,
                inv,
                from_account_id=world.seller_account_id,
                to_account_id=world.aws_billing_account_id,
                action="INVOICED",
                transaction_type="AWS_REV_SHARE",
                amount=money_text(-fee, c.currency),
                balance_impacting="1",
                invoice_id=inv.fee_invoice_id,
                line_item_id=world.ids.line_item_id(),
                invoice_variant="LISTING_FEE",
                charge_variant="",
                charge_side="",
            )
        )
    return rows


def issue_events(world: World) -> None:
    """Write the INVOICED rows of every invoice (faults may re-issue or extend them afterwards)."""
    for inv in world.marketplace_invoices:
        reissue(world, inv)


def reissue(
    world: World,
    inv: MarketplaceInvoice,
    *,
    tax_type: str | None | bool = True,
    tax_amounts: dict[str, Decimal] | None = None,
) -> None:
    """Rebuild the INVOICED rows of `inv` from its lines and fee rate (after a fault changed them).

    `tax_type=True` keeps the contract's tax treatment; a string or None forces another."""
    chosen = tax_transaction_type(inv.contract) if tax_type is True else tax_type
    inv.events = invoiced_events(
        world, inv, chosen if isinstance(chosen, str) else None, tax_amounts
    )
