"""`payments`: cash in — bank receipts, customer payments and marketplace disbursements.

An empty `account_key` is unidentified cash (a receipt nobody has matched yet) and loads
without an account; a non-empty one must be known. `invoice_number` and `bank_trace_id` are
kept as written: matching them is reconciliation's job.
"""

from __future__ import annotations

from billing.ingest import fields as f
from billing.ingest.account_rows import NOT_IN_CONTRACTS, AccountRowAdapter
from billing.ingest.adapter import Column
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


class PaymentsAdapter(AccountRowAdapter):
    kind = "payments"
    table = Payment.__table__
    fields = _FIELDS
    columns = tuple(c.name for c in _FIELDS)
    key = "payment_id"
    key_labels = (key,)
    unknown_account = f"{NOT_IN_CONTRACTS}; leave it empty for unidentified cash"
