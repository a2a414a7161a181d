"""`metering`: what AWS answered to our `BatchMeterUsage` calls, one response per JSONL line.

Each line is the response as the API returns it — `Results` (each with its `UsageRecord`,
`MeteringRecordId` and `Status`: Success | CustomerNotSubscribed | DuplicateRecord) and
`UnprocessedRecords` — plus the call's `ProductCode` and `SubmittedAt`. Every usage record
becomes one `metering_results` row; unprocessed ones get the status `Unprocessed`. The customer
(`CustomerIdentifier`, or the newer `CustomerAWSAccountId`) must be one of our accounts: we sent
the call. Timestamps are ISO 8601 text or epoch seconds (the API's JSON form).
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from billing.ingest import fields as f
from billing.ingest import lookups
from billing.ingest.adapter import Record, RowAdapter
from billing.ingest.errors import RowError
from billing.ingest.inserts import insert_new
from billing.models import MeteringResult

STATUSES = ("Success", "CustomerNotSubscribed", "DuplicateRecord")
UNPROCESSED = "Unprocessed"
MAX_RECORDS = 25  # BatchMeterUsage takes at most 25 usage records per call
_KEY = ("product_code", "customer_ref", "dimension", "timestamp", "status")


class _Bad(Exception):
    """One field of the line is wrong (path and reason)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason


def _timestamp(value: Any, path: str) -> datetime:
    if isinstance(value, str):
        try:
            return f.timestamp(value)
        except f.FieldError as exc:
            raise _Bad(path, str(exc)) from None
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    raise _Bad(path, f"{value!r} is not a timestamp (ISO 8601 text or epoch seconds)")


def _text(
    record: dict[str, Any], name: str, path: str, max_len: int = 64, required: bool = True
) -> str | None:
    value = record.get(name)
    if value is None or value == "":
        if required:
            raise _Bad(f"{path}.{name}", "is missing")
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise _Bad(f"{path}.{name}", f"{value!r} is not text of at most {max_len} characters")
    return value


class MeteringAdapter(RowAdapter):
    kind = "metering"
    table = MeteringResult.__table__
    columns = ("ProductCode", "SubmittedAt", "Results", "UnprocessedRecords")
    suffixes = (".jsonl",)
    flat = False
    key_labels = ("ProductCode, customer, Dimension, Timestamp, Status",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.products = lookups.product_codes(conn)
        self.by_identifier = lookups.accounts_by_customer_identifier(conn)
        self.by_aws_id = lookups.accounts_by_aws_id(conn)

    def convert(self, line: int, values: Any, errors: list[RowError]) -> list[Record]:
        if not isinstance(values, dict):
            errors.append(
                RowError(
                    line, "(row)", "is not a JSON object (one BatchMeterUsage response per line)"
                )
            )
            return []
        call: dict[str, Any] = {}
        for name, check in (("ProductCode", self._product_code), ("SubmittedAt", _timestamp)):
            try:
                call[name] = check(values.get(name), name)
            except _Bad as bad:
                errors.append(RowError(line, bad.path, bad.reason))
        results, unprocessed = values.get("Results", []), values.get("UnprocessedRecords", [])
        for name, items in (("Results", results), ("UnprocessedRecords", unprocessed)):
            if not isinstance(items, list):
                errors.append(RowError(line, name, "must be a list"))
                return []
        if len(results) + len(unprocessed) > MAX_RECORDS:
            errors.append(
                RowError(
                    line,
                    "(row)",
                    (
                        f"holds {len(results) + len(unprocessed)} usage records; a BatchMeterUsage call takes at most "
                        f"{MAX_RECORDS}"
                    ),
                )
            )
        records: list[Record] = []
        for i, result in enumerate(results):
            self._collect(line, f"Results[{i}]", result, call, records, errors, processed=True)
        for i, usage in enumerate(unprocessed):
            self._collect(
                line, f"UnprocessedRecords[{i}]", usage, call, records, errors, processed=False
            )
        return records

    def _collect(
        self,
        line: int,
        path: str,
        item: Any,
        call: dict[str, Any],
        records: list[Record],
        errors: list[RowError],
        *,
        processed: bool,
    ) -> None:
        try:
            records.append(self._record(path, item, call, processed))
        except _Bad as bad:
            errors.append(RowError(line, bad.path, bad.reason))

    def _record(self, path: str, item: Any, call: dict[str, Any], processed: bool) -> Record:
        if not isinstance(item, dict):
            raise _Bad(path, "is not a JSON object")
        status, record_id = UNPROCESSED, None
        usage = item
        if processed:
            status = item.get("Status")
            if status not in STATUSES:
                raise _Bad(f"{path}.Status", f"{status!r} is not one of: {', '.join(STATUSES)}")
            record_id = _text(item, "MeteringRecordId", path, required=False)
            usage = item.get("UsageRecord")
            path = f"{path}.UsageRecord"
            if not isinstance(usage, dict):
                raise _Bad(path, "is missing or not a JSON object")
        identifier = _text(usage, "CustomerIdentifier", path, required=False)
        aws_id = _text(usage, "CustomerAWSAccountId", path, max_len=12, required=False)
        if (identifier is None) == (aws_id is None):
            raise _Bad(path, "needs exactly one of CustomerIdentifier and CustomerAWSAccountId")
        if identifier is not None and identifier not in self.by_identifier:
            raise _Bad(
                f"{path}.CustomerIdentifier",
                f"unknown CustomerIdentifier {identifier!r} "
                "(no account has this aws_customer_identifier)",
            )
        if aws_id is not None and aws_id not in self.by_aws_id:
            raise _Bad(
                f"{path}.CustomerAWSAccountId",
                f"unknown CustomerAWSAccountId {aws_id!r} (no account has this aws_account_id)",
            )
        quantity = usage.get("Quantity")
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, (int, Decimal))
            or quantity != int(quantity)
        ):
            raise _Bad(
                f"{path}.Quantity",
                f"{quantity!r} is not a whole number (metering quantities are integers)",
            )
        if quantity < 0:
            raise _Bad(f"{path}.Quantity", f"{quantity} is negative; it must be 0 or more")
        if "ProductCode" not in call or "SubmittedAt" not in call:
            raise _Bad(path, "cannot be stored: the call's ProductCode or SubmittedAt is bad")
        return {
            "product_code": call["ProductCode"],
            "customer_identifier": identifier,
            "customer_aws_account_id": aws_id,
            "customer_ref": identifier or aws_id,
            "license_arn": _text(usage, "LicenseArn", path, max_len=255, required=False),
            "dimension": _text(usage, "Dimension", path),
            "timestamp": _timestamp(usage.get("Timestamp"), f"{path}.Timestamp"),
            "quantity": Decimal(int(quantity)),
            "status": status,
            "metering_record_id": record_id,
            "submitted_at": call["SubmittedAt"],
            "ingest_batch_id": self.batch_id,
        }

    def _product_code(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise _Bad(path, "is missing")
        if value not in self.products:
            raise _Bad(path, f"unknown product_code {value!r} (not in contracts)")
        return value

    def keys(self, record: Record) -> tuple[Hashable, ...]:
        return (tuple(record[k] for k in _KEY),)

    def load(self, conn: Connection, records: list[Record]) -> None:
        insert_new(conn, self.table, records, _KEY)
