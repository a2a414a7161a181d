"""`refunds`: refund requests we raised or approved (e.g. the marketplace refund form).

A request moves from `requested` to `approved` or `rejected`, so a later file overwrites the
stored row of the same `request_id`.
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy import Connection

from billing.ingest import fields as f
from billing.ingest import lookups
from billing.ingest.adapter import Column, Record, RowAdapter, convert_columns, unknown
from billing.ingest.errors import RowError
from billing.ingest.inserts import upsert
from billing.models import CHANNEL_VALUES, RefundRequest

STATUSES = ("requested", "approved", "rejected")

_FIELDS = (
    Column("request_id", f.string(64)),
    Column("account_key", f.string(64)),
    Column("channel", f.choice(CHANNEL_VALUES)),
    Column("partner_invoice_id", f.optional(f.string(64))),
    Column("currency", f.currency),
    Column("amount", f.positive(f.amount)),
    Column("status", f.choice(STATUSES)),
    Column("requested_date", f.day),
    Column("approved_date", f.optional(f.day)),
    Column("reason", f.optional(f.string(255))),
)


class RefundsAdapter(RowAdapter):
    kind = "refunds"
    table = RefundRequest.__table__
    columns = tuple(c.name for c in _FIELDS)
    key_labels = ("request_id",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.accounts = lookups.accounts_by_key(conn)

    def convert(self, line: int, values: dict[str, str], errors: list[RowError]) -> list[Record]:
        record = convert_columns(_FIELDS, values, line, errors)
        key = record.pop("account_key")
        record["account_id"] = self.accounts.get(key or "")
        if key is not None and record["account_id"] is None:
            errors.append(unknown(line, "account_key", key, "not in contracts"))
        requested, approved = record["requested_date"], record["approved_date"]
        if requested is not None and approved is not None and approved < requested:
            errors.append(
                RowError(line, "approved_date", f"{approved} is before requested_date {requested}")
            )
        return [record]

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return (record["request_id"],)

    def load(self, conn: Connection, records: list[Record]) -> None:
        upsert(conn, self.table, records, ("request_id",))
