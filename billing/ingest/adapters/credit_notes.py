"""`credit-notes`: credits we issued, against an invoice or on account.

`invoice_number` is kept as written and not required to exist: a credit that matches no
invoice is exactly what reconciliation must be able to see.
"""

from __future__ import annotations

from billing.ingest import fields as f
from billing.ingest.account_rows import AccountRowAdapter
from billing.ingest.adapter import Column
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


class CreditNotesAdapter(AccountRowAdapter):
    kind = "credit-notes"
    table = CreditNote.__table__
    fields = _FIELDS
    columns = tuple(c.name for c in _FIELDS)
    key = "credit_note_number"
    key_labels = (key,)
