"""`fx-rates`: what one unit of a currency was worth in USD on a date (finance's booking rate)."""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy import Connection

from billing.ingest import fields as f
from billing.ingest.adapter import Column, Record, RowAdapter, convert_columns
from billing.ingest.errors import RowError
from billing.ingest.inserts import insert_new
from billing.models import FxRate

_FIELDS = (
    Column("rate_date", f.day),
    Column("currency", f.currency),
    Column("usd_per_unit", f.positive(f.rate)),
)


class FxRatesAdapter(RowAdapter):
    kind = "fx-rates"
    table = FxRate.__table__
    columns = tuple(c.name for c in _FIELDS)
    key_labels = ("rate_date, currency",)

    def convert(self, line: int, values: dict[str, str], errors: list[RowError]) -> list[Record]:
        return [convert_columns(_FIELDS, values, line, errors)]

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return ((record["rate_date"], record["currency"]),)

    def load(self, conn: Connection, records: list[Record]) -> None:
        insert_new(conn, self.table, records, ("rate_date", "currency"))
