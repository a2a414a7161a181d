"""`billing-events`: AWS Marketplace `billing_event` feed rows, AWS's own column names.

The feed is bi-temporal and append-only: a correction arrives as a new row with the same
`billing_event_id` and a later `update_date`; a removal carries a `delete_date`. We keep the
current state: the row with the latest `update_date` wins (in the file and against what is
stored), and a winning row with a `delete_date` is kept, marked deleted, for the audit trail.
Buyers we do not know are stored as the partner wrote them; a `product_id` we do not know is
an error (nothing could be compared with it).
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy import Connection

from billing.ingest import fields as f
from billing.ingest import lookups
from billing.ingest.adapter import Column, Record, RowAdapter, check_product_id, convert_columns
from billing.ingest.errors import RowError
from billing.ingest.inserts import upsert
from billing.models import BillingEvent

ACTIONS = ("INVOICED", "FORGIVEN", "DISBURSED", "COLLECTED")
_SHARES = ("SELLER_REV_SHARE", "AWS_REV_SHARE", "SELLER_TAX_SHARE", "AWS_TAX_SHARE")
TRANSACTION_TYPES = (
    *_SHARES,
    *(f"{s}_REFUND" for s in _SHARES),
    *(f"{s}_CREDIT" for s in _SHARES),
    "BALANCE_ADJUSTMENT",
    "DISBURSEMENT",
    "DISBURSEMENT_FAILURE",
)
INVOICE_VARIANTS = ("PURCHASE", "RESALE", "LISTING_FEE", "TAX_VAT")
CHARGE_SIDES = ("BUYING", "SELLING")

_id = f.optional(f.string(64))
_account = f.optional(f.aws_account_id)
_day = f.optional(f.day)

# The columns every billing_event feed has had, then the bi-temporal ones.
_FIELDS = (
    Column("billing_event_id", f.string(64)),
    Column("from_account_id", _account),
    Column("to_account_id", _account),
    Column("end_user_account_id", _account),
    Column("product_id", _id),
    Column("action", f.choice(ACTIONS)),
    Column("transaction_type", f.choice(TRANSACTION_TYPES)),
    Column("parent_billing_event_id", _id),
    Column("disbursement_billing_event_id", _id),
    Column("amount", f.amount),
    Column("currency", f.currency),
    Column("balance_impacting", f.flag),
    Column("invoice_date", _day),
    Column("payment_due_date", _day),
    Column("usage_period_start_date", _day),
    Column("usage_period_end_date", _day),
    Column("invoice_id", _id),
    Column("billing_address_id", _id),
    Column("transaction_reference_id", _id),
    Column("bank_trace_id", _id),
    Column("broker_id", _id),
    Column("valid_from", f.optional(f.timestamp)),
    Column("update_date", f.timestamp),
    Column("delete_date", f.optional(f.timestamp)),
)
# Columns AWS added later: optional in the header (older extracts lack them), empty when absent.
_NEWER_FIELDS = (
    Column("agreement_id", _id),
    Column("offer_id", _id),
    Column("catalog", f.optional(f.string(32))),
    Column("action_date", _day),
    Column("buyer_invoice_id", _id),
    Column("line_item_id", _id),
    Column("invoice_variant", f.optional(f.choice(INVOICE_VARIANTS))),
    Column("charge_variant", f.optional(f.string(16))),
    Column("charge_side", f.optional(f.choice(CHARGE_SIDES))),
    Column("recipient_account_id", _account),
    Column("disbursement_amount", f.optional(f.amount)),
    Column("disbursement_currency", f.optional(f.currency)),
    Column("disbursement_reference_number", _id),
)


class BillingEventsAdapter(RowAdapter):
    kind = "billing-events"
    table = BillingEvent.__table__
    columns = tuple(c.name for c in _FIELDS)
    optional_columns = tuple(c.name for c in _NEWER_FIELDS)
    key_labels = ("billing_event_id, update_date",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.products = lookups.products_by_marketplace_id(conn)
        self.fields = _FIELDS + _NEWER_FIELDS

    def convert(self, line: int, values: dict[str, str], errors: list[RowError]) -> list[Record]:
        record = convert_columns(self.fields, values, line, errors)
        check_product_id(line, record["product_id"], self.products, errors)
        record["ingest_batch_id"] = self.batch_id
        return [record]

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return ((record["billing_event_id"], record["update_date"]),)

    def load(self, conn: Connection, records: list[Record]) -> None:
        upsert(conn, self.table, records, ("billing_event_id",), newer_when="update_date")
