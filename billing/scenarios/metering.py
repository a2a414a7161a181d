"""`BatchMeterUsage` calls as AWS answered them: one call per product and hour (up to 25 records),
zeros included, with the statuses faults gave some records, plus later retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from billing.scenarios.calendar import iso_hour
from billing.scenarios.model import Account, Contract, ExtraMeterRecord
from billing.scenarios.world import World

MAX_RECORDS_PER_CALL = 25  # BatchMeterUsage accepts up to 25 UsageRecords


def usage_record(
    world: World, account: Account, dimension: str, hour: int, quantity: int
) -> dict[str, Any]:
    """The `UsageRecord` as sent: CustomerIdentifier, or CustomerAWSAccountId + LicenseArn."""
    record: dict[str, Any] = {"Timestamp": world.timeline.stamps[hour]}
    if account.meters_by_account_id:
        record["CustomerAWSAccountId"] = account.aws_account_id
        record["LicenseArn"] = account.license_arn
    else:
        record["CustomerIdentifier"] = account.aws_customer_identifier
    record["Dimension"] = dimension
    record["Quantity"] = quantity
    return record


def _calls(
    world: World,
    product_code: str,
    submitted: str,
    results: list[dict[str, Any]],
    unprocessed: list[dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    entries = [("r", r) for r in results] + [("u", u) for u in unprocessed]
    for start in range(0, len(entries), MAX_RECORDS_PER_CALL):
        chunk = entries[start : start + MAX_RECORDS_PER_CALL]
        yield {
            "ProductCode": product_code,
            "SubmittedAt": submitted,
            "Results": [e for tag, e in chunk if tag == "r"],
            "UnprocessedRecords": [e for tag, e in chunk if tag == "u"],
        }


def metering_calls(world: World) -> Iterator[dict[str, Any]]:
    """Every call of the scenario in submission order (hourly job, then the retry job's calls)."""
    tl = world.timeline
    by_product: dict[str, list[Contract]] = {}
    for c in world.contracts:
        if c.is_aws and (c.contract_key, c.product.dimensions[0].key) in world.usage:
            by_product.setdefault(c.product.product_code, []).append(c)
    for hour in range(tl.n_hours):
        moment = tl.moment(hour)
        submitted = iso_hour(moment + timedelta(hours=1, minutes=5))
        for product_code, contracts in by_product.items():
            results: list[dict[str, Any]] = []
            unprocessed: list[dict[str, Any]] = []
            for c in contracts:
                if not c.active_on(moment.date()):
                    continue
                for dim in c.product.dimensions:
                    _add_record(world, c, dim.key, hour, results, unprocessed)
            if results or unprocessed:
                yield from _calls(world, product_code, submitted, results, unprocessed)
    yield from _retry_calls(world, world.extra_meter)


def _add_record(
    world: World,
    c: Contract,
    dimension: str,
    hour: int,
    results: list[dict[str, Any]],
    unprocessed: list[dict[str, Any]],
) -> None:
    key = (c.contract_key, dimension, hour)
    override = world.meter_overrides.get(key)
    if override is not None and override.status == "Omitted":
        return
    quantity = world.meter_quantity.get(key, world.usage[(c.contract_key, dimension)][hour])
    record = usage_record(world, c.account, dimension, hour, quantity)
    if override is not None and override.status == "Unprocessed":
        unprocessed.append(record)
    elif override is not None:
        results.append({"UsageRecord": record, "Status": override.status})
    else:
        results.append(
            {
                "UsageRecord": record,
                "MeteringRecordId": world.ids.metering_record_id(),
                "Status": "Success",
            }
        )


def _retry_calls(world: World, extras: list[ExtraMeterRecord]) -> Iterator[dict[str, Any]]:
    for extra in extras:
        c = world.contract(extra.contract_key)
        record = usage_record(world, c.account, extra.dimension, extra.hour, extra.quantity)
        submitted = iso_hour(world.timeline.moment(extra.hour) + timedelta(hours=3, minutes=17))
        result: dict[str, Any] = {"UsageRecord": record, "Status": extra.status}
        if extra.status == "Success":
            result["MeteringRecordId"] = world.ids.metering_record_id()
        yield {
            "ProductCode": c.product.product_code,
            "SubmittedAt": submitted,
            "Results": [result],
            "UnprocessedRecords": [],
        }
