"""`payments`: cash in — bank receipts, customer payments and marketplace disbursements.

An empty `account_key` is unidentified cash (a receipt nobody has matched yet) and loads
without an account; a non-empty one must be known. `invoice_number` and `bank_trace_id` are
kept as written: matching them is reconciliation's job.
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy import Connection

from billing.ingest import fields as f
from billing.ingest import lookups
from billing.ingest.adapter import Column, Record, RowAdapter, convert_columns, unknown
from billing.ingest.errors import RowError
from billing.ingest.inserts import insert_new
from billing.models import CHANNEL_VALUES, Payment

KINDS = ("customer_payment", "disbursement", "bank_receipt")

_FIELDS = (
    Column("payment_id", f.string(64)),
    Column("account_key", f.optional(f.string(64))),
    Column("channel", f.choice(CHANNEL_VALUES)),
    Column("kind", f.choice(KINDS)),
    Column("currency", f.currency),
    Column("amount", f.positive(f.amount)),
    Column("received_date", f.day),
    Column("invoice_number", f.optional(f.string(64))),
    Column("bank_trace_id", f.optional(f.string(64))),
    Column("payer", f.optional(f.string(255))),
    Column("remittance_note", f.optional(f.string(2000))),
)


class PaymentsAdapter(RowAdapter):
    kind = "payments"
    table = Payment.__table__
    columns = tuple(c.name for c in _FIELDS)
    key_labels = ("payment_id",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.accounts = lookups.accounts_by_key(conn)

    def convert(self, line: int, values: dict[str, str], errors: list[RowError]) -> list[Record]:
        record = convert_columns(_FIELDS, values, line, errors)
        key = record.pop("account_key")
        record["account_id"] = None if key is None else self.accounts.get(key)
        if key is not None and record["account_id"] is None:
            errors.append(
                unknown(
                    line,
                    "account_key",
                    key,
                    "not in contracts; leave it empty for unidentified cash",
                )
            )
        return [record]

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return (record["payment_id"],)

    def load(self, conn: Connection, records: list[Record]) -> None:
        insert_new(conn, self.table, records, ("payment_id",))
