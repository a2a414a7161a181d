"""`partner-usage`: AWS's `dailyusagefeed_v1` rows — the partner's view of usage per day.

A row for a buyer we do not know is still the partner's truth: it is stored (the end user is a
plain 12-digit string, not a reference) for reconciliation to flag. A `product_id` we do not
know is an error: nothing could be compared with it. Second hot path of the benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from decimal import Decimal

from sqlalchemy import Connection

from billing.ingest import fields as f
from billing.ingest import lookups
from billing.ingest.adapter import Column, Record, RowAdapter, check_product_id, convert_columns
from billing.ingest.errors import RowError
from billing.ingest.inserts import insert_new
from billing.models import PartnerUsage
from billing.money import CURRENCIES

# What the fast path takes as is; anything else goes through the careful path of `fields`.
_UNSIGNED_AMOUNT = re.compile(r"\d{1,14}(?:\.\d{0,6})?")
_AMOUNT = re.compile(r"-?\d{1,14}(?:\.\d{0,6})?")
_RATE = re.compile(r"\d{1,10}(?:\.\d{0,10})?")
_KEY = ("usage_date", "product_id", "end_user_account_id", "dimension_key", "region", "offer_id")


def _empty_or(parse: f.Parser[str]) -> f.Parser[str]:
    """Like `optional`, but "not given" is stored as '' (these columns are part of the natural key)."""

    def parse_or_empty(value: str) -> str:
        return parse(value) if value.strip() else ""

    return parse_or_empty


class PartnerUsageAdapter(RowAdapter):
    kind = "partner-usage"
    table = PartnerUsage.__table__
    columns = (
        "usage_feed_id",
        "usage_date",
        "product_id",
        "agreement_id",
        "end_user_account_id",
        "payer_account_id",
        "region",
        "dimension_key",
        "usage_unit",
        "usage_quantity",
        "pricing_currency",
        "usage_rate_per_unit_in_pricing_currency",
        "estimated_revenue_in_pricing_currency",
        "offer_id",
        "recipient_account_id",
        "charge_item_description",
        "catalog",
    )
    key_labels = (", ".join(_KEY),)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.products = lookups.products_by_marketplace_id(conn)
        self.day = day = f.memoized(f.day)
        self.account_id = account_id = f.memoized(f.aws_account_id)
        self.optional_account_id = optional_account_id = f.memoized(f.optional(f.aws_account_id))
        self.fields = (
            Column("usage_feed_id", f.optional(f.string(64))),
            Column("usage_date", day),
            Column("product_id", f.memoized(f.string(64))),
            Column("agreement_id", f.memoized(f.optional(f.string(64)))),
            Column("end_user_account_id", account_id),
            Column("payer_account_id", optional_account_id),
            Column("region", f.memoized(_empty_or(f.string(32)))),
            Column("dimension_key", f.memoized(f.string(64))),
            Column("usage_unit", f.memoized(f.optional(f.string(32)))),
            Column("usage_quantity", f.non_negative(f.amount)),
            Column("pricing_currency", f.currency),
            Column("usage_rate_per_unit_in_pricing_currency", f.optional(f.rate)),
            Column("estimated_revenue_in_pricing_currency", f.optional(f.amount)),
            Column("offer_id", f.memoized(_empty_or(f.string(64)))),
            Column("recipient_account_id", optional_account_id),
            Column("charge_item_description", f.memoized(f.optional(f.string(255)))),
            Column("catalog", f.memoized(f.optional(f.string(32)))),
        )

    def convert(self, line: int, values: dict[str, str], errors: list[RowError]) -> list[Record]:
        record = self._convert_fast(values)
        if record is None:  # something is off: read column by column to name every bad field
            record = convert_columns(self.fields, values, line, errors)
            check_product_id(line, record["product_id"], self.products, errors)
        record["ingest_batch_id"] = self.batch_id
        return [record]

    def _convert_fast(self, v: dict[str, str]) -> Record | None:
        """The valid row of a well-formed feed, converted with as few calls as possible (the
        benchmark's hot path); None as soon as any check fails."""
        quantity = v["usage_quantity"]
        rate = v["usage_rate_per_unit_in_pricing_currency"]
        revenue = v["estimated_revenue_in_pricing_currency"]
        if not (
            v["product_id"] in self.products
            and _UNSIGNED_AMOUNT.fullmatch(quantity)
            and (not rate or _RATE.fullmatch(rate))
            and (not revenue or _AMOUNT.fullmatch(revenue))
            and v["pricing_currency"] in CURRENCIES
            and v["dimension_key"].strip()
            and len(v["usage_feed_id"]) <= 64
            and len(v["agreement_id"]) <= 64
            and len(v["dimension_key"]) <= 64
            and len(v["offer_id"]) <= 64
            and len(v["region"]) <= 32
            and len(v["usage_unit"]) <= 32
            and len(v["catalog"]) <= 32
            and len(v["charge_item_description"]) <= 255
        ):
            return None
        try:
            return {
                "usage_feed_id": v["usage_feed_id"] or None,
                "usage_date": self.day(v["usage_date"]),
                "product_id": v["product_id"],
                "agreement_id": v["agreement_id"] or None,
                "end_user_account_id": self.account_id(v["end_user_account_id"]),
                "payer_account_id": self.optional_account_id(v["payer_account_id"]),
                "region": v["region"],
                "dimension_key": v["dimension_key"],
                "usage_unit": v["usage_unit"] or None,
                "usage_quantity": Decimal(quantity),
                "pricing_currency": v["pricing_currency"],
                "usage_rate_per_unit_in_pricing_currency": Decimal(rate) if rate else None,
                "estimated_revenue_in_pricing_currency": Decimal(revenue) if revenue else None,
                "offer_id": v["offer_id"],
                "recipient_account_id": self.optional_account_id(v["recipient_account_id"]),
                "charge_item_description": v["charge_item_description"] or None,
                "catalog": v["catalog"] or None,
            }
        except f.FieldError:
            return None

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return (
            (
                record["usage_date"],
                record["product_id"],
                record["end_user_account_id"],
                record["dimension_key"],
                record["region"],
                record["offer_id"],
            ),
        )

    def load(self, conn: Connection, records: list[Record]) -> None:
        insert_new(conn, self.table, records, _KEY)
