"""Rule `usage_without_agreement`: usage in hours no active AWS agreement covers.

DOMAIN.md (entitlement_mismatch): "agreement SUPERSEDED/ROLLED_BACK; usage after
cancellation". For every AWS-channel contract (aws_marketplace, reseller) valid during the
month that names an agreement, the agreement's row in the partner's `agreement` feed says
which hours it covers:

- ACTIVE: from `start_time` to `end_time` (open-ended when none);
- SUPERSEDED: from `start_time` until its successor (the agreement whose
  `preceding_agreement_id` names it) started, or not at all when no successor is known; when
  the successor is ACTIVE, on through the successor's own window (the buyer is subscribed under
  the replacement: the rejected metering runbook calls a refusal then a stale mapping, not a lost
  entitlement), with any gap between the two left uncovered. One successor is followed, not a
  chain;
- ROLLED_BACK: no hour (the agreement never took effect);
- EXPIRED, CANCELLED and any other status: from `start_time` to `end_time`, no hour without one;
- no row in the feed for the named agreement: no hour.

Usage > 0 of the contract's account × product in the contract's days of the month outside
that window is summed in SQL per dimension and raised as one
`usage_without_active_agreement` per contract × month (observed = its value at the
contracted rates, expected = 0). Contracts that name no agreement are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from billing.models import Account, Agreement, Contract, ContractRate, Product, UsageRecord
from billing.reconcile.config import current
from billing.reconcile.contracts_in_force import AWS_CHANNELS
from billing.reconcile.evidence import as_datetime, exact, moment, text, value_of
from billing.reconcile.findings import Finding
from billing.reconcile.periods import Period, period_bounds
from billing.reconcile.sql import id_list, split_ids

RULE = "usage_without_agreement"
NOT_FOUND = "NOT_FOUND"
_NEVER = datetime.max.replace(tzinfo=UTC)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class _Contract:
    """A contract with its agreement's state, one row of the first (small) query."""

    contract_id: int
    contract_key: str
    account_id: int
    account_key: str
    product_code: str
    channel: str
    currency: str
    start_date: date
    end_date: date | None
    agreement_id: str
    status: str
    agreement_start: datetime | None
    agreement_end: datetime | None
    successor_id: str | None
    successor_start: datetime | None
    successor_status: str | None = None
    successor_end: datetime | None = None


def _own_window(status: str, start: datetime | None, end: datetime | None) -> Interval | None:
    """The hours one agreement covers by itself, by its status (a SUPERSEDED one: see below)."""
    if status in (NOT_FOUND, "ROLLED_BACK") or start is None:
        return None
    if status == "ACTIVE":
        return start, end or _NEVER
    return (start, end) if end else None


def covered_windows(c: _Contract) -> list[Interval]:
    """The hours the contract's agreement covers, and its ACTIVE successor's (module docstring)."""
    if c.status != "SUPERSEDED":
        own = _own_window(c.status, c.agreement_start, c.agreement_end)
        return [own] if own else []
    if c.successor_start is None or c.agreement_start is None:
        return []
    windows = [(c.agreement_start, min(c.successor_start, c.agreement_end or _NEVER))]
    if c.successor_status == "ACTIVE":
        windows.append((c.successor_start, c.successor_end or _NEVER))
    return [w for w in windows if w[0] < w[1]]


def uncovered(span: Interval, covered: list[Interval]) -> list[Interval]:
    """`span` minus every covered window, in order."""
    gaps = [span] if span[0] < span[1] else []
    for lo, hi in covered:
        gaps = [piece for start, end in gaps
                for piece in ((start, min(end, lo)), (max(start, hi), end)) if piece[0] < piece[1]]
    return gaps


def find(session: Session, period: str) -> Iterator[Finding]:
    """Usage of `period` outside the hours an active agreement covers."""
    bounds = period_bounds(period)
    limit = current().max_record_refs
    for contract in _contracts(session, bounds):
        span = _contract_span(contract, bounds)
        intervals = uncovered(span, covered_windows(contract))
        if not intervals:
            continue
        usage = session.execute(_usage_outside(contract, intervals)).all()
        if usage:
            yield _finding(contract, bounds, intervals, usage, limit)


def _contracts(session: Session, bounds: Period) -> list[_Contract]:
    successor = aliased(Agreement, name="successor")
    successor_row = aliased(Agreement, name="successor_row")
    first_successor = (
        select(successor.preceding_agreement_id.label("preceding_id"),
               func.min(successor.start_time).label("successor_start"),
               func.min(successor.agreement_id).label("successor_id"))
        .where(successor.preceding_agreement_id.is_not(None))
        .group_by(successor.preceding_agreement_id).subquery("first_successor")
    )
    query = (
        select(Contract.id, Contract.contract_key, Contract.account_id, Account.account_key, Product.product_code,
               Contract.channel, Contract.currency, Contract.start_date, Contract.end_date, Contract.agreement_id,
               func.coalesce(Agreement.status, NOT_FOUND).label("status"), Agreement.start_time,
               Agreement.end_time, first_successor.c.successor_id, first_successor.c.successor_start,
               successor_row.status.label("successor_status"), successor_row.end_time.label("successor_end"))
        .join(Account, Account.id == Contract.account_id)
        .join(Product, Product.id == Contract.product_id)
        .outerjoin(Agreement, Agreement.agreement_id == Contract.agreement_id)
        .outerjoin(first_successor, first_successor.c.preceding_id == Contract.agreement_id)
        .outerjoin(successor_row, successor_row.agreement_id == first_successor.c.successor_id)
        .where(Contract.channel.in_(AWS_CHANNELS), Contract.agreement_id.is_not(None),
               Contract.start_date <= bounds.last_day,
               or_(Contract.end_date.is_(None), Contract.end_date >= bounds.first_day))
        .order_by(Contract.contract_key)
    )
    return [
        _Contract(r.id, r.contract_key, r.account_id, r.account_key, r.product_code, r.channel, r.currency,
                  r.start_date, r.end_date, r.agreement_id, str(r.status).upper(), as_datetime(r.start_time),
                  as_datetime(r.end_time), r.successor_id, as_datetime(r.successor_start),
                  str(r.successor_status).upper() if r.successor_status else None, as_datetime(r.successor_end))
        for r in session.execute(query)
    ]


def _contract_span(c: _Contract, bounds: Period) -> Interval:
    """The contract's own days inside the month, as [start, end) in UTC."""
    start = max(bounds.start, datetime.combine(c.start_date, datetime.min.time(), UTC))
    end = bounds.end if c.end_date is None else min(
        bounds.end, datetime.combine(c.end_date + timedelta(days=1), datetime.min.time(), UTC))
    return start, end


def _usage_outside(c: _Contract, intervals: list[Interval]) -> Any:
    u = UsageRecord
    return (
        select(u.dimension_key, func.sum(u.quantity).label("quantity"), func.count().label("hours"),
               func.min(u.usage_hour).label("first_hour"), func.max(u.usage_hour).label("last_hour"),
               id_list(u.id).label("ids"), ContractRate.unit_price)
        .outerjoin(ContractRate, and_(ContractRate.contract_id == c.contract_id,
                                      ContractRate.dimension_key == u.dimension_key))
        .where(u.account_id == c.account_id, u.product_code == c.product_code, u.quantity > 0,
               or_(*[and_(u.usage_hour >= lo, u.usage_hour < hi) for lo, hi in intervals]))
        .group_by(u.dimension_key, ContractRate.unit_price)
        .order_by(u.dimension_key)
    )


def _finding(c: _Contract, bounds: Period, intervals: list[Interval], usage: list[Any], limit: int) -> Finding:
    per_dimension, ids, value = [], [], Decimal(0)
    for row in usage:
        quantity = exact(row.quantity)
        dimension_value = value_of(quantity, row.unit_price)
        value += dimension_value or Decimal(0)
        ids.append(row.ids or "")
        per_dimension.append({
            "dimension_key": row.dimension_key, "quantity": text(quantity), "hours": row.hours,
            "first_hour": moment(as_datetime(row.first_hour)), "last_hour": moment(as_datetime(row.last_hour)),
            "unit_price": text(row.unit_price), "value": text(dimension_value),
        })
    single = usage[0] if len(usage) == 1 else None
    covered = covered_windows(c)
    hours = sum(row.hours for row in usage)
    return Finding(
        rule=RULE, kind="usage_without_active_agreement", period=bounds.name, channel=c.channel,
        account_id=c.account_id, key_parts=(c.product_code, c.contract_key),
        description=(f"{c.account_key} used {c.product_code} for {hours} hour(s) in {bounds.name} outside what "
                     f"agreement {c.agreement_id} ({c.status}) covers; value at contract {c.contract_key} rates "
                     f"{text(value)} {c.currency}."),
        product_code=c.product_code, dimension_key=single.dimension_key if single else None, currency=c.currency,
        expected_amount=Decimal(0), observed_amount=value,
        expected_quantity=Decimal(0) if single else None, observed_quantity=exact(single.quantity) if single else None,
        record_refs={"contracts": [c.contract_key], "agreements": [c.agreement_id],
                     "usage_records": split_ids(",".join(ids), limit)},
        details={
            "agreement_id": c.agreement_id, "agreement_status": c.status,
            "agreement_start": moment(c.agreement_start), "agreement_end": moment(c.agreement_end),
            "successor_agreement_id": c.successor_id, "successor_start": moment(c.successor_start),
            "covered_from": moment(covered[0][0]) if covered else None,
            "covered_until": None if not covered or covered[-1][1] == _NEVER else moment(covered[-1][1]),
            "uncovered": [[moment(lo), moment(hi)] for lo, hi in intervals],
            "hours_with_usage": hours, "per_dimension": per_dimension, "contract_key": c.contract_key,
        },
    )
