"""Importing usage and metering summaries: the listed rows, plus *balancing rows* so the sums match.

A bundle carries our usage as daily sums with a few hourly rows, and metering as per-status
counts with the records that were not `Success`. On import the listed rows are upserted and,
where a sum or a count is not yet reached, rows tagged ``bundle:`` are added at hours the
bundle does not list (so exporting the case again lists the same rows and the same sums).

Done with Core bulk statements on the session's transaction: a month of metering counts can
mean a thousand rows, which ORM objects one by one would make slow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from billing.bundles.schema import MeteringSection, UsageSection
from billing.bundles.scope import at_midnight
from billing.bundles.upsert import BundleLoadError
from billing.models import MeteringResult, UsageRecord

#: Ids of rows the importer adds to balance a summary start with this.
BALANCING_PREFIX = "bundle:"
# Balancing usage goes at midday first: far from the period boundary the bundle shows hour by hour.
_BALANCING_HOUR_ORDER = [12, 13, 11, 14, 10, 15, 9, 16, 8, 17, 7, 18, 6, 19, 5, 20, 4, 21, 3, 22, 2, 23, 1, 0]

UsageKey = tuple[str, str, datetime]


def load_usage(session: Session, usage: UsageSection, account_id: int, shown: set[datetime]) -> None:
    """Upsert the hourly rows, then balance each day's sum with one tagged row at an hour not in `shown`."""
    codes = sorted({d.product_code for d in usage.daily} | {h.product_code for h in usage.hourly})
    lo, hi = at_midnight(usage.window_start), at_midnight(usage.window_end + timedelta(days=1))
    for i, h in enumerate(usage.hourly):
        if not lo <= h.usage_hour < hi:
            raise BundleLoadError(f"$.usage.hourly[{i}].usage_hour", "outside the usage window")
    # key -> [row id or None, quantity, source_record_id]
    rows: dict[UsageKey, list[Any]] = {
        (p, d, h): [row_id, q, src] for row_id, p, d, h, q, src in session.execute(
            select(UsageRecord.id, UsageRecord.product_code, UsageRecord.dimension_key, UsageRecord.usage_hour,
                   UsageRecord.quantity, UsageRecord.source_record_id)
            .where(UsageRecord.account_id == account_id, UsageRecord.product_code.in_(codes),
                   UsageRecord.usage_hour >= lo, UsageRecord.usage_hour < hi))
    }
    changed: set[UsageKey] = set()
    for h in usage.hourly:
        key = (h.product_code, h.dimension_key, h.usage_hour)
        row = rows.setdefault(key, [None, None, None])
        if row[0] is None or (row[1], row[2]) != (h.quantity, h.record_id):
            row[1], row[2] = h.quantity, h.record_id
            changed.add(key)
    by_day: dict[tuple[str, str, date], list[UsageKey]] = defaultdict(list)
    for key in rows:
        by_day[(key[0], key[1], key[2].date())].append(key)
    for i, d in enumerate(usage.daily):
        keys = by_day[(d.product_code, d.dimension_key, d.usage_date)]
        diff = d.quantity - sum((rows[k][1] for k in keys), Decimal(0))
        if diff == 0 and keys:
            continue
        balancing = [k for k in keys if (rows[k][2] or "").startswith(BALANCING_PREFIX)]
        if balancing and rows[balancing[0]][1] + diff >= 0:
            rows[balancing[0]][1] += diff
            changed.add(balancing[0])
            continue
        if diff < 0:
            raise BundleLoadError(f"$.usage.daily[{i}].quantity", (
                f"{d.quantity} is less than the {d.usage_date} usage the database and the bundle's hourly "
                f"rows already hold for {d.product_code}/{d.dimension_key}"))
        midnight = at_midnight(d.usage_date)
        taken = {k[2] for k in keys} | shown
        hour = next((midnight + timedelta(hours=h) for h in _BALANCING_HOUR_ORDER
                     if midnight + timedelta(hours=h) not in taken), None)
        if hour is None:
            raise BundleLoadError(f"$.usage.daily[{i}]", "no free hour left that day to hold the rest of its sum")
        key = (d.product_code, d.dimension_key, hour)
        rows[key] = [None, diff, f"{BALANCING_PREFIX}{d.product_code}:{d.dimension_key}:{d.usage_date.isoformat()}"]
        changed.add(key)
    _write(session, UsageRecord, [
        {"id": rows[k][0], "account_id": account_id, "product_code": k[0], "dimension_key": k[1], "usage_hour": k[2],
         "quantity": rows[k][1], "source_record_id": rows[k][2]} for k in sorted(changed)])


MeteringKey = tuple[str, str, str, datetime, str]  # product, customer_ref, dimension, timestamp, status
_METERING_VALUES = ("customer_identifier", "customer_aws_account_id", "license_arn", "quantity",
                    "metering_record_id", "submitted_at")


def load_metering(session: Session, section: MeteringSection, refs: list[str],
                  period: tuple[datetime, datetime]) -> None:
    """Upsert the listed metering records, then complete each status count with tagged records."""
    listed = {(r.product_code, r.customer_ref, r.dimension, r.timestamp, r.status): r for r in section.results}
    if not listed and not section.status_counts:
        return
    all_refs = sorted(set(refs) | {k[1] for k in listed})
    codes = sorted({c.product_code for c in section.status_counts} | {k[0] for k in listed})
    lo = min([period[0], *(k[3] for k in listed)])
    hi = max([period[1], *(k[3] + timedelta(hours=1) for k in listed)])
    columns = [getattr(MeteringResult, c) for c in _METERING_VALUES]
    state: dict[MeteringKey, dict[str, Any]] = {}
    for row in session.execute(select(MeteringResult.id, MeteringResult.product_code, MeteringResult.customer_ref,
                                      MeteringResult.dimension, MeteringResult.timestamp, MeteringResult.status,
                                      *columns)
                               .where(MeteringResult.customer_ref.in_(all_refs),
                                      MeteringResult.product_code.in_(codes),
                                      MeteringResult.timestamp >= lo, MeteringResult.timestamp < hi)):
        state[(row.product_code, row.customer_ref, row.dimension, row.timestamp, row.status)] = dict(row._mapping)
    changed: set[MeteringKey] = set()
    for key, record in listed.items():
        values = record.model_dump(include=set(_METERING_VALUES))
        row = state.setdefault(key, {"id": None})
        if row["id"] is None or any(row.get(c) != v for c, v in values.items()):
            row.update(values)
            changed.add(key)
    for i, count in enumerate(section.status_counts):
        _balance(f"$.metering.status_counts[{i}]", count, state, changed, refs[0], period)
    _write(session, MeteringResult, [
        {"product_code": k[0], "customer_ref": k[1], "dimension": k[2], "timestamp": k[3], "status": k[4],
         **{c: state[k].get(c) for c in _METERING_VALUES}, "id": state[k]["id"]} for k in sorted(changed)])


def _balance(path: str, count: Any, state: dict[MeteringKey, dict[str, Any]], changed: set[MeteringKey],
             ref: str, period: tuple[datetime, datetime]) -> None:
    group = [k for k in state if (k[0], k[2], k[4]) == (count.product_code, count.dimension, count.status)
             and period[0] <= k[3] < period[1]]
    missing = count.records - len(group)
    rest = count.quantity - sum((state[k]["quantity"] for k in group), Decimal(0))
    if missing < 0:
        raise BundleLoadError(f"{path}.records", f"{count.records} is fewer than the {len(group)} "
                              f"{count.status} records the database and the bundle already hold")
    balancing = [k for k in group if (state[k].get("metering_record_id") or "").startswith(BALANCING_PREFIX)]
    if missing == 0:
        if rest == 0:
            return
        if balancing and state[balancing[0]]["quantity"] + rest >= 0:
            state[balancing[0]]["quantity"] += rest
            changed.add(balancing[0])
            return
        raise BundleLoadError(f"{path}.quantity", f"{count.quantity} disagrees with the {count.status} "
                              f"records of the bundle and the database")
    if rest < 0:
        raise BundleLoadError(f"{path}.quantity", f"{count.quantity} is less than the {count.status} records hold")
    taken = {k[3] for k in group}
    slot = period[0]
    for n in range(missing):
        while slot in taken:
            slot += timedelta(hours=1)
        if slot >= period[1]:
            raise BundleLoadError(f"{path}.records", "more records than hours in the period")
        key = (count.product_code, ref, count.dimension, slot, count.status)
        state[key] = {"id": None, "customer_identifier": None, "customer_aws_account_id": None, "license_arn": None,
                      "quantity": rest if n == 0 else Decimal(0), "submitted_at": None,
                      "metering_record_id": f"{BALANCING_PREFIX}{count.status}:{slot:%Y%m%d%H}"}
        changed.add(key)
        taken.add(slot)


def _write(session: Session, model: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Insert the rows without an id and update the others by primary key, each as one bulk statement."""
    rows = list(rows)
    new = [{k: v for k, v in r.items() if k != "id"} for r in rows if r["id"] is None]
    known = [r for r in rows if r["id"] is not None]
    if new:
        session.execute(insert(model), new)
    if known:
        session.execute(update(model), known)
