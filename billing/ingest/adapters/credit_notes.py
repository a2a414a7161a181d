"""`credit-notes`: credits we issued, against an invoice or on account.

`invoice_number` is kept as written and not required to exist: a credit that matches no
invoice is exactly what reconciliation must be able to see.
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy import Connection

from billing.ingest import fields as f
from billing.ingest import lookups
from billing.ingest.adapter import Column, Record, RowAdapter, convert_columns, unknown
from billing.ingest.errors import RowError
from billing.ingest.inserts import insert_new
from billing.models import CreditNote

_FIELDS = (
    Column("credit_note_number", f.string(64)),
    Column("account_key", f.string(64)),
    Column("invoice_number", f.optional(f.string(64))),
    Column("currency", f.currency),
    Column("amount", f.positive(f.amount)),
    Column("issue_date", f.day),
    Column("reason", f.optional(f.string(255))),
)


class CreditNotesAdapter(RowAdapter):
    kind = "credit-notes"
    table = CreditNote.__table__
    columns = tuple(c.name for c in _FIELDS)
    key_labels = ("credit_note_number",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.accounts = lookups.accounts_by_key(conn)

    def convert(self, line: int, values: dict[str, str], errors: list[RowError]) -> list[Record]:
        record = convert_columns(_FIELDS, values, line, errors)
        key = record.pop("account_key")
        record["account_id"] = self.accounts.get(key or "")
        if key is not None and record["account_id"] is None:
            errors.append(unknown(line, "account_key", key, "not in contracts"))
        return [record]

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return (record["credit_note_number"],)

    def load(self, conn: Connection, records: list[Record]) -> None:
        insert_new(conn, self.table, records, ("credit_note_number",))
