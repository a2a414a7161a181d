"""`invoices`: our invoices, one CSV row per invoice line.

The header fields repeat on every line and must agree; the invoice's subtotal is Σ amount, its
tax Σ tax_amount, its total subtotal + tax; every line's amount must equal quantity × unit_price
rounded to the currency's minor unit. An invoice loads whole or not at all: with
`--skip-bad-rows`, one bad line rejects all the lines of its invoice. An invoice already stored
(same `invoice_number`) is kept as it is, lines included.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from billing.ingest import fields as f
from billing.ingest import lookups
from billing.ingest.adapter import Column, Record, RowAdapter, convert_columns, unknown
from billing.ingest.errors import RowError
from billing.ingest.inserts import insert_new
from billing.models import CHANNEL_VALUES, Invoice, InvoiceLine
from billing.money import quantize

HEADER = (
    "account_key",
    "contract_key",
    "channel",
    "period",
    "currency",
    "issue_date",
    "due_date",
    "partner_invoice_id",
)

_FIELDS = (
    Column("invoice_number", f.string(64)),
    Column("account_key", f.string(64)),
    Column("contract_key", f.optional(f.string(64))),
    Column("channel", f.choice(CHANNEL_VALUES)),
    Column("period", f.period),
    Column("currency", f.currency),
    Column("issue_date", f.day),
    Column("due_date", f.day),
    Column("line_no", f.integer),
    Column("product_code", f.optional(f.string(64))),
    Column("dimension_key", f.optional(f.string(64))),
    Column("description", f.optional(f.string(255))),
    Column("quantity", f.non_negative(f.amount)),
    Column("unit_price", f.rate),
    Column("amount", f.amount),
    Column("tax_amount", f.optional(f.amount)),
    Column("partner_invoice_id", f.optional(f.string(64))),
)
_CHUNK = 500  # invoice numbers per IN (...) query


@dataclass
class _Invoice:
    """What validation learns about one invoice across its lines."""

    first_line: int
    header: dict[str, Any] | None = None  # from the first good line
    lines: list[int] = field(default_factory=list)
    subtotal: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)


class InvoicesAdapter(RowAdapter):
    kind = "invoices"
    table = InvoiceLine.__table__
    columns = tuple(c.name for c in _FIELDS)
    key_labels = ("invoice_number, line_no",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.accounts = lookups.accounts_by_key(conn)
        self.contracts = lookups.contracts_by_key(conn)
        self.products = lookups.product_codes(conn)
        self.dimensions = lookups.dimensions(conn)
        self.invoices: dict[str, _Invoice] = {}
        self.disagreements: list[RowError] = []
        self.rejected: set[str] = set()  # invoices with a bad line: none of their lines load
        self.invoice_ids: dict[str, int] = {}

    def convert(self, line: int, values: dict[str, str], errors: list[RowError]) -> list[Record]:
        record = convert_columns(_FIELDS, values, line, errors)
        self._check_references(line, record, errors)
        if record["line_no"] is not None and record["line_no"] < 1:
            errors.append(RowError(line, "line_no", f"{record['line_no']} must be 1 or more"))
        if (
            record["issue_date"]
            and record["due_date"]
            and record["due_date"] < record["issue_date"]
        ):
            errors.append(
                RowError(
                    line,
                    "due_date",
                    f"{record['due_date']} is before issue_date {record['issue_date']}",
                )
            )
        if record["tax_amount"] is None:
            record["tax_amount"] = Decimal(0)
        if None not in (
            record["quantity"],
            record["unit_price"],
            record["amount"],
            record["currency"],
        ):
            expected = quantize(record["quantity"] * record["unit_price"], record["currency"])
            if record["amount"] != expected:
                errors.append(
                    RowError(
                        line,
                        "amount",
                        (
                            f"{values['amount']} is not quantity × unit_price = {values['quantity']} × "
                            f"{values['unit_price']} = {expected} (rounded to the {record['currency']} minor unit)"
                        ),
                    )
                )
        return [record]

    def _check_references(self, line: int, record: Record, errors: list[RowError]) -> None:
        if record["account_key"] is not None and record["account_key"] not in self.accounts:
            errors.append(unknown(line, "account_key", record["account_key"], "not in contracts"))
        if record["contract_key"] is not None and record["contract_key"] not in self.contracts:
            errors.append(unknown(line, "contract_key", record["contract_key"], "not in contracts"))
        product, dimension = record["product_code"], record["dimension_key"]
        if product is not None and product not in self.products:
            errors.append(unknown(line, "product_code", product, "not in contracts"))
        elif (
            product is not None
            and dimension is not None
            and (product, dimension) not in self.dimensions
        ):
            errors.append(
                RowError(
                    line,
                    "dimension_key",
                    f"{dimension!r} is not a dimension of product {product!r}",
                )
            )

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return ((record["invoice_number"], record["line_no"]),)

    # -- across lines: one header per invoice, totals, all-or-nothing per invoice -------------

    def reset(self) -> None:
        self.invoices = {}
        self.disagreements = []
        self.rejected = set()

    def observe(self, line: int, values: Any, records: list[Record]) -> None:
        number = values.get("invoice_number", "") if isinstance(values, dict) else ""
        invoice = self.invoices.setdefault(number, _Invoice(first_line=line))
        invoice.lines.append(line)
        if not records:
            return
        record = records[0]
        header = {name: record[name] for name in HEADER}
        if invoice.header is None:
            invoice.header = header
        else:
            for name in HEADER:
                if header[name] != invoice.header[name]:
                    self.disagreements.append(
                        RowError(
                            line,
                            name,
                            (
                                f"{values[name]!r} differs from {invoice.header[name]!r} on an earlier line of invoice "
                                f"{number} (header fields must agree on every line)"
                            ),
                        )
                    )
        invoice.subtotal += record["amount"]
        invoice.tax += record["tax_amount"]

    def after_validation(self, bad_lines: set[int]) -> list[RowError]:
        errors = list(self.disagreements)
        bad = bad_lines | {e.row for e in errors}
        for number, invoice in self.invoices.items():
            bad_here = sorted(set(invoice.lines) & bad)
            if bad_here:
                self.rejected.add(number)
                errors += [
                    RowError(
                        line,
                        "invoice_number",
                        (
                            f"invoice {number} loads whole or not at all, and line {bad_here[0]} of it has errors"
                        ),
                    )
                    for line in invoice.lines
                    if line not in bad
                ]
        return errors

    # -- loading -------------------------------------------------------------------------------

    def before_load(self, conn: Connection) -> None:
        """Insert the header of every new, good invoice; remember the ids lines will point to."""
        good = {
            n: i
            for n, i in self.invoices.items()
            if i.header is not None and n not in self.rejected
        }
        existing = self._ids(conn, list(good))
        headers = []
        for number, invoice in good.items():
            if number in existing:
                continue  # already stored: kept as it is
            header = dict(invoice.header or {})
            headers.append(
                {
                    "invoice_number": number,
                    "account_id": self.accounts[header.pop("account_key")],
                    "contract_id": self.contracts.get(header.pop("contract_key") or ""),
                    **header,
                    "subtotal": invoice.subtotal,
                    "tax": invoice.tax,
                    "total": invoice.subtotal + invoice.tax,
                }
            )
        for start in range(0, len(headers), _CHUNK):
            insert_new(
                conn, Invoice.__table__, headers[start : start + _CHUNK], ("invoice_number",)
            )
        self.invoice_ids = self._ids(conn, [h["invoice_number"] for h in headers])

    def load(self, conn: Connection, records: list[Record]) -> None:
        lines = [
            {
                "invoice_id": self.invoice_ids[r["invoice_number"]],
                "line_no": r["line_no"],
                "product_code": r["product_code"],
                "dimension_key": r["dimension_key"],
                "description": r["description"],
                "quantity": r["quantity"],
                "unit_price": r["unit_price"],
                "amount": r["amount"],
            }
            for r in records
            if r["invoice_number"] in self.invoice_ids
        ]
        insert_new(conn, self.table, lines, ("invoice_id", "line_no"))

    @staticmethod
    def _ids(conn: Connection, numbers: list[str]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for start in range(0, len(numbers), _CHUNK):
            chunk = numbers[start : start + _CHUNK]
            rows = conn.execute(
                select(Invoice.invoice_number, Invoice.id).where(Invoice.invoice_number.in_(chunk))
            )
            ids.update({n: i for n, i in rows})
        return ids
