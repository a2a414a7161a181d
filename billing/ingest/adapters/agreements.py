"""`agreements`: AWS `agreement` feed rows — the partner's entitlement state.

The buyer is found by `acceptor_account_id` = accounts.aws_account_id; an agreement whose
acceptor we do not know is still the partner's truth and is stored without an account.
Agreements change state (ACTIVE → SUPERSEDED, ROLLED_BACK, ...), so a later file overwrites the
stored row of the same `agreement_id`.
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy import Connection

from billing.ingest import fields as f
from billing.ingest import lookups
from billing.ingest.adapter import Column, Record, RowAdapter, convert_columns
from billing.ingest.errors import RowError
from billing.ingest.inserts import upsert
from billing.models import Agreement

# AWS agreement statuses (Marketplace Agreement API / agreement feed).
STATUSES = (
    "ACTIVE",
    "ARCHIVED",
    "CANCELLED",
    "EXPIRED",
    "RENEWED",
    "REPLACED",
    "ROLLED_BACK",
    "SUPERSEDED",
    "TERMINATED",
)

_FIELDS = (
    Column("agreement_id", f.string(64)),
    Column("offer_id", f.optional(f.string(64))),
    Column("proposer_account_id", f.optional(f.aws_account_id)),
    Column("acceptor_account_id", f.optional(f.aws_account_id)),
    Column("start_time", f.timestamp),
    Column("end_time", f.optional(f.timestamp)),
    Column("acceptance_time", f.optional(f.timestamp)),
    Column("intent", f.optional(f.string(32))),
    Column("preceding_agreement_id", f.optional(f.string(64))),
    Column("status", f.choice(STATUSES)),
    Column("currency_code", f.optional(f.currency)),
    Column("estimated_agreement_value", f.optional(f.non_negative(f.amount))),
)


class AgreementsAdapter(RowAdapter):
    kind = "agreements"
    table = Agreement.__table__
    columns = tuple(c.name for c in _FIELDS)
    key_labels = ("agreement_id",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.accounts = lookups.accounts_by_aws_id(conn)

    def convert(self, line: int, values: dict[str, str], errors: list[RowError]) -> list[Record]:
        record = convert_columns(_FIELDS, values, line, errors)
        start, end = record["start_time"], record["end_time"]
        if start is not None and end is not None and end < start:
            errors.append(
                RowError(
                    line,
                    "end_time",
                    f"{values['end_time']} is before start_time {values['start_time']}",
                )
            )
        record["account_id"] = self.accounts.get(record["acceptor_account_id"] or "")
        return [record]

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return (record["agreement_id"],)

    def load(self, conn: Connection, records: list[Record]) -> None:
        upsert(conn, self.table, records, ("agreement_id",))
