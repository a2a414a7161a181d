"""`refunds`: refund requests we raised or approved (e.g. the marketplace refund form).

A request moves from `requested` to `approved` or `rejected`, so a later file overwrites the
stored row of the same `request_id`.
"""

from __future__ import annotations

from billing.ingest import fields as f
from billing.ingest.account_rows import AccountRowAdapter
from billing.ingest.adapter import Column, Record
from billing.ingest.errors import RowError
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


class RefundsAdapter(AccountRowAdapter):
    kind = "refunds"
    table = RefundRequest.__table__
    fields = _FIELDS
    columns = tuple(c.name for c in _FIELDS)
    key = "request_id"
    key_labels = (key,)
    replaces = True  # a request's status moves on: the latest file says where it stands

    def finish(self, line: int, record: Record, errors: list[RowError]) -> None:
        requested, approved = record["requested_date"], record["approved_date"]
        if requested is not None and approved is not None and approved < requested:
            errors.append(
                RowError(line, "approved_date", f"{approved} is before requested_date {requested}")
            )
