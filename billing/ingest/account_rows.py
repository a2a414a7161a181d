"""The adapter of a simple ledger file: one record per row, naming one of our accounts.

Credit notes, refund requests, payments and messages all read a row's columns as they are,
turn its `account_key` into our account id, are unique by one id column and are stored by
that id. `AccountRowAdapter` does that once; a format states its fields, its id column and
what may differ (a check across fields, a derived field, a later file replacing a stored row).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from sqlalchemy import Connection

from billing.ingest import lookups
from billing.ingest.adapter import Column, Record, RowAdapter, convert_columns, unknown
from billing.ingest.errors import RowError
from billing.ingest.inserts import insert_new, upsert

# Where an account key must come from, said in the error for one we do not hold.
NOT_IN_CONTRACTS = "not in contracts"


class AccountRowAdapter(RowAdapter):
    """One record per row: `fields` parsed, `account_key` → `account_id`, unique by `key`."""

    fields: ClassVar[tuple[Column, ...]]
    key: ClassVar[str]  # the id column: unique within a file, and the natural key in the table
    # True: a later file's row replaces the stored one of the same id (upsert); False: skipped.
    replaces: ClassVar[bool] = False
    unknown_account: ClassVar[str] = NOT_IN_CONTRACTS

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.accounts = lookups.accounts_by_key(conn)

    def convert(self, line: int, values: dict[str, str], errors: list[RowError]) -> list[Record]:
        record = convert_columns(self.fields, values, line, errors)
        key = record.pop("account_key")
        # An empty optional key (None) loads without an account; a bad one is already an error.
        record["account_id"] = None if key is None else self.accounts.get(key)
        if key is not None and record["account_id"] is None:
            errors.append(unknown(line, "account_key", key, self.unknown_account))
        self.finish(line, record, errors)
        return [record]

    def finish(self, line: int, record: Record, errors: list[RowError]) -> None:
        """Check one record across its fields (append to `errors`) or add the fields derived
        from others. Default: nothing."""

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return (record[self.key],)

    def load(self, conn: Connection, records: list[Record]) -> None:
        store = upsert if self.replaces else insert_new
        store(conn, self.table, records, (self.key,))
