"""`usage`: our own metering export, one row per account × product × dimension × hour (CSV or JSONL).

Zero-quantity hours are rows too (AWS recommends a record every hour, 0 when idle). This is
the hot path of the benchmark (millions of rows), hence plain field functions and dict lookups.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from decimal import Decimal

from sqlalchemy import Connection

from billing.ingest import fields as f
from billing.ingest import lookups
from billing.ingest.adapter import Record, RowAdapter, read
from billing.ingest.errors import RowError
from billing.ingest.inserts import insert_new
from billing.models import UsageRecord

_record_id = f.string(64)
_quantity = f.non_negative(f.amount)
# A quantity the fast path may take as is: the `amount` format without a sign.
_PLAIN_QUANTITY = re.compile(r"\d{1,14}(?:\.\d{0,6})?")


class UsageAdapter(RowAdapter):
    kind = "usage"
    table = UsageRecord.__table__
    columns = (
        "record_id",
        "account_key",
        "product_code",
        "dimension_key",
        "usage_hour",
        "quantity",
    )
    suffixes = (".csv", ".jsonl")
    key_labels = ("record_id", "account_key, product_code, dimension_key, usage_hour")

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.accounts = lookups.accounts_by_key(conn)
        self.products = lookups.product_codes(conn)
        self.dimensions = lookups.dimensions(conn)
        self.hour = f.memoized(f.hour)  # every account and dimension repeats the same hours

    def convert(self, line: int, values: dict[str, str], errors: list[RowError]) -> list[Record]:
        # Fast path for the common, valid row; any surprise falls back to the careful path,
        # which names every bad field.
        try:
            record_id = values["record_id"]
            product_code = values["product_code"]
            dimension_key = values["dimension_key"]
            quantity = values["quantity"]
            if (
                record_id.strip()
                and len(record_id) <= 64
                and (product_code, dimension_key) in self.dimensions
                and _PLAIN_QUANTITY.fullmatch(quantity)
            ):
                return [
                    {
                        "account_id": self.accounts[values["account_key"]],
                        "product_code": product_code,
                        "dimension_key": dimension_key,
                        "usage_hour": self.hour(values["usage_hour"]),
                        "quantity": Decimal(quantity),
                        "source_record_id": record_id,
                        "ingest_batch_id": self.batch_id,
                    }
                ]
        except (KeyError, f.FieldError):
            pass
        return self._convert_carefully(line, values, errors)

    def _convert_carefully(
        self, line: int, values: dict[str, str], errors: list[RowError]
    ) -> list[Record]:
        record_id = read(values, "record_id", _record_id, line, errors)
        account_key = values["account_key"]
        account_id = self.accounts.get(account_key)
        if account_id is None:
            errors.append(
                RowError(
                    line, "account_key", f"unknown account_key {account_key!r} (not in contracts)"
                )
            )
        product_code = values["product_code"]
        dimension_key = values["dimension_key"]
        if product_code not in self.products:
            errors.append(
                RowError(
                    line,
                    "product_code",
                    f"unknown product_code {product_code!r} (not in contracts)",
                )
            )
        elif (product_code, dimension_key) not in self.dimensions:
            errors.append(
                RowError(
                    line,
                    "dimension_key",
                    f"dimension {dimension_key!r} is not a dimension of product {product_code!r}",
                )
            )
        usage_hour = read(values, "usage_hour", self.hour, line, errors)
        quantity = read(values, "quantity", _quantity, line, errors)
        return [
            {
                "account_id": account_id,
                "product_code": product_code,
                "dimension_key": dimension_key,
                "usage_hour": usage_hour,
                "quantity": quantity,
                "source_record_id": record_id,
                "ingest_batch_id": self.batch_id,
            }
        ]

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return (
            record["source_record_id"],
            (
                record["account_id"],
                record["product_code"],
                record["dimension_key"],
                record["usage_hour"],
            ),
        )

    def load(self, conn: Connection, records: list[Record]) -> None:
        insert_new(
            conn, self.table, records, ("account_id", "product_code", "dimension_key", "usage_hour")
        )
