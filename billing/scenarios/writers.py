"""One writer per file kind of a scenario folder, in the agreed formats (docs/formats.md).

Byte-for-byte deterministic: fixed column order, `\\n` line ends, sorted where order is free,
decimals as exact text."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from billing.ingest.registry import columns_of
from billing.scenarios.calendar import iso_hour
from billing.scenarios.model import AgreementRow, Contract
from billing.scenarios.world import World

# Each file's header is what its ingest adapter requires, in the adapter's order.
AGREEMENT_COLUMNS = columns_of("agreements")
USAGE_COLUMNS = columns_of("usage")
PARTNER_USAGE_COLUMNS = columns_of("partner-usage")
INVOICE_COLUMNS = columns_of("invoices")
CREDIT_NOTE_COLUMNS = columns_of("credit-notes")
REFUND_COLUMNS = columns_of("refunds")
PAYMENT_COLUMNS = columns_of("payments")
FX_COLUMNS = columns_of("fx-rates")


def dec(value: Decimal | None) -> str:
    """Exact decimal text ('' for None), never scientific notation."""
    return "" if value is None else format(value, "f")


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write a header and rows (dicts keyed by column); returns the row count."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
            count += 1
    return count


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def _contract_doc(c: Contract) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "contract_key": c.contract_key,
        "account_key": c.account.account_key,
        "product_code": c.product.product_code,
        "channel": c.channel,
        "offer_id": c.offer_id,
        "agreement_id": c.agreement_id,
        "currency": c.currency,
        "start_date": c.start_date.isoformat(),
        "end_date": c.end_date.isoformat() if c.end_date else None,
        "is_private_offer": c.is_private_offer,
        "is_renewal": c.is_renewal,
        "listing_fee_rate": dec(c.listing_fee_rate) or None,
        "total_contract_value": dec(c.total_contract_value) or None,
        "discount_pct": dec(c.discount_pct) or None,
        "commitment_amount": dec(c.commitment_amount) or None,
        "payment_terms_days": c.payment_terms_days,
        "reseller_name": c.reseller_name,
        "reseller_account_id": c.reseller_account_id,
        "wholesale_discount_pct": dec(c.wholesale_discount_pct) or None,
        "tax_party": c.tax_party,
        "rates": [
            {"dimension_key": k, "unit_price": dec(v), "included_quantity": "0"}
            for k, v in c.rates.items()
        ],
    }
    return {k: v for k, v in doc.items() if v is not None}


def write_contracts(path: Path, world: World) -> int:
    """contracts.yaml: accounts, products with dimensions, contracts with rates."""
    accounts = []
    for a in world.accounts:
        doc = {
            "account_key": a.account_key,
            "name": a.name,
            "aws_account_id": a.aws_account_id,
            "aws_customer_identifier": a.aws_customer_identifier,
            "azure_subscription_id": a.azure_subscription_id,
            "gcp_billing_account_id": a.gcp_billing_account_id,
        }
        accounts.append({k: v for k, v in doc.items() if v is not None})
    products = [
        {
            "product_code": p.product_code,
            "marketplace_product_id": p.marketplace_product_id,
            "title": p.title,
            "dimensions": [
                {"key": d.key, "unit": d.unit, "description": d.description} for d in p.dimensions
            ],
        }
        for p in world.products
    ]
    document = {
        "accounts": accounts,
        "products": products,
        "contracts": [_contract_doc(c) for c in world.contracts],
    }
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        yaml.safe_dump(document, fh, sort_keys=False, allow_unicode=True, width=120)
    return len(world.contracts)


def _agreement_row(a: AgreementRow) -> dict[str, Any]:
    return {
        "agreement_id": a.agreement_id,
        "offer_id": a.offer_id,
        "proposer_account_id": a.proposer_account_id,
        "acceptor_account_id": a.acceptor_account_id,
        "start_time": iso_hour(a.start_time),
        "end_time": iso_hour(a.end_time) if a.end_time else "",
        "acceptance_time": iso_hour(a.acceptance_time),
        "intent": a.intent,
        "preceding_agreement_id": a.preceding_agreement_id or "",
        "status": a.status,
        "currency_code": a.currency_code,
        "estimated_agreement_value": dec(a.estimated_agreement_value),
    }


def write_agreements(path: Path, world: World) -> int:
    return write_csv(path, AGREEMENT_COLUMNS, (_agreement_row(a) for a in world.agreements))


def usage_rows(world: World) -> Iterator[dict[str, Any]]:
    """Our hourly export: every hour of every contract × dimension inside the contract, zeros included."""
    n = 0
    tl = world.timeline
    stamps = tl.stamps
    for c in world.contracts:
        for d in c.product.dimensions:
            hours = world.usage.get((c.contract_key, d.key))
            if hours is None:
                continue
            for h, quantity in enumerate(hours):
                if not c.active_on(tl.day_of(h)):
                    continue
                n += 1
                yield {
                    "record_id": f"u{n:09d}",
                    "account_key": c.account.account_key,
                    "product_code": c.product.product_code,
                    "dimension_key": d.key,
                    "usage_hour": stamps[h],
                    "quantity": quantity,
                }


def invoice_rows(world: World) -> Iterator[dict[str, Any]]:
    for inv in sorted(world.ledger, key=lambda i: i.invoice_number):
        for n, line in enumerate(inv.lines, start=1):
            yield {
                "invoice_number": inv.invoice_number,
                "account_key": inv.account.account_key,
                "contract_key": inv.contract.contract_key,
                "channel": inv.channel,
                "period": inv.period,
                "currency": inv.currency,
                "issue_date": inv.issue_date.isoformat(),
                "due_date": inv.due_date.isoformat(),
                "line_no": n,
                "product_code": inv.contract.product.product_code,
                "dimension_key": line.dimension_key,
                "description": line.description,
                "quantity": dec(line.quantity),
                "unit_price": dec(line.unit_price),
                "amount": dec(line.amount),
                "tax_amount": dec(line.tax_amount),
                "partner_invoice_id": inv.partner_invoice_id or "",
            }


def numbered(
    rows: list[dict[str, Any]], column: str, prefix: str, sort_by: str
) -> list[dict[str, Any]]:
    """Sort rows by a date column (stable) and give them sequential ids."""
    ordered = sorted(rows, key=lambda r: r[sort_by])
    for n, row in enumerate(ordered, start=1):
        row[column] = f"{prefix}{n:06d}"
    return ordered


def write_fx(path: Path, world: World) -> int:
    rows = sorted(world.fx.rows())
    return write_csv(
        path,
        FX_COLUMNS,
        ({"rate_date": d.isoformat(), "currency": c, "usd_per_unit": dec(r)} for d, c, r in rows),
    )
