"""Set-based reads for a chunk of cases: one query per table for the chunk, not one per case.

`prefetch_contexts(session, ids, shared=cache)` returns a ready `ToolContext` per exception,
with what every case reads first already read for the whole chunk:

- the exceptions and their accounts (one query; `ToolContext.for_exception` runs one per case);
- the messages attached to them or received for their accounts (one query; per case: the
  attached ones and the account's inside the case's money window — `fetch_messages`' rule);
- our usage per account × product × dimension × UTC day, and the partner's daily usage rows,
  in the usage windows of the chunk's cases (one query each per window: a chunk usually
  spans one or two periods), and our hourly rows at the period boundaries (one query per
  boundary) and at the hours the exceptions name (one query). The tools still ask for their
  own slice (`usage_tools.usage_day_sums` / `partner_usage_rows` / `usage_hours_ahead`) and
  get it from these rows instead of a query per account and product;
- AWS's metering answers of the chunk's customers in their periods, counted per customer ×
  product × dimension × status, with the first records of each that were not accepted (one
  query each per period; `usage_tools.metering_of` slices them).

The tools stay the only definition of what the evidence is: they run unchanged on these
contexts, and `tests/tools/test_tools_prefetch.py` checks that a prefetched chunk gathers
exactly the evidence each case gathers alone. Like any `EvidenceCache`, the rows are one view
of the data: a batch prefetches each chunk just before triaging it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Literal

from sqlalchemy import and_, bindparam, func, or_, select, tuple_
from sqlalchemy.orm import Session

from billing.bundles.fetch.sql import dialect, fetch_rows, prepared
from billing.bundles.fetch.usage import (
    METERING_COLUMNS,
    NOT_ACCEPTED,
    SUCCESS,
    as_utc,
    boundary_ranges,
    hours_named_in,
    utc_day,
)
from billing.bundles.records import MessageRecord, MeteringResultRecord, UsageHour
from billing.bundles.scope import BOUNDARY_HOURS, CaseScope, at_midnight, scope_of
from billing.models import Account, Discrepancy, MeteringResult, Message, PartnerUsage, UsageRecord
from tools.context import EvidenceCache, ToolContext
from tools.evidence import plan_for

#: Ids per IN list (well under SQLite's and PostgreSQL's parameter limits).
CHUNK = 500

_EXCEPTION_COLUMNS = list(Discrepancy.__table__.columns)
_ACCOUNT_COLUMNS = [c for c in Account.__table__.columns if c.key != "created_at"]
_MESSAGE_FIELDS = [c for c in Message.__table__.columns if c.key not in ("id", "account_id")]

#: The tool that slices the usage rows read ahead.
USAGE_TOOL = "get_usage_summary"
#: Cache keys of the prefetched rows (see `usage_tools`).
MESSAGES = "messages"
USAGE_DAYS = "usage_days_of_account"
PARTNER_USAGE = "partner_usage_of"
USAGE_HOURS = "usage_hours_of_account"
NAMED_HOURS = "named_usage_hours_of_account"
METERING = "metering_of_customer"
#: The tool that reads the metering answers.
METERING_TOOL = "get_metering_results"
#: Records not accepted read ahead per customer × product × dimension: `get_metering_results`'
#: default `limit` (a case asking for more reads them itself).
METERING_ROWS_AHEAD = 24


@dataclass(frozen=True)
class WindowRows:
    """Rows of one account over days [lo, hi): a slice of any window inside it is exact."""

    lo: date
    hi: date
    rows: tuple[tuple[Any, ...], ...]

    def covers(self, window: tuple[date, date]) -> bool:
        """Whether the rows hold every day of `window` (half-open)."""
        return self.lo <= window[0] and window[1] <= self.hi


@dataclass(frozen=True)
class HourRows:
    """Our hourly rows of one account inside some hour ranges or at some hours, for some
    products and dimensions, sorted as `fetch_usage_hours` sorts them: what it returns for any
    of those products and dimensions over those ranges (exactly) or at some of those hours."""

    codes: frozenset[str]
    dims: frozenset[str]
    rows: tuple[UsageHour, ...]
    ranges: tuple[tuple[datetime, datetime], ...] = ()
    hours: frozenset[datetime] = frozenset()

    def _has(self, codes: Iterable[str], dims: Iterable[str]) -> bool:
        return self.codes.issuperset(codes) and self.dims.issuperset(dims)

    def in_ranges(self, codes: Sequence[str], dims: Sequence[str],
                  ranges: Sequence[tuple[datetime, datetime]]) -> list[UsageHour] | None:
        """The rows of `codes` × `dims` in `ranges`, or None when those were not read ahead."""
        if set(ranges) != set(self.ranges) or not self._has(codes, dims):
            return None
        return [r for r in self.rows if r.product_code in codes and r.dimension_key in dims]

    def at_hours(self, codes: Sequence[str], dims: Sequence[str], hours: Sequence[datetime]) -> list[UsageHour] | None:
        """The rows of `codes` × `dims` at `hours`, or None when those were not read ahead."""
        wanted = set(hours)
        if not wanted <= self.hours or not self._has(codes, dims):
            return None
        return [r for r in self.rows if r.usage_hour in wanted and r.product_code in codes and r.dimension_key in dims]


def _chunks(ids: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def _exceptions_stmt() -> Any:
    return (select(*_EXCEPTION_COLUMNS, *(c.label(f"account__{c.key}") for c in _ACCOUNT_COLUMNS))
            .outerjoin(Account, Account.id == Discrepancy.account_id)
            .where(Discrepancy.id.in_(bindparam("ids", expanding=True))))


def load_exceptions(session: Session, exception_ids: Sequence[int]) -> dict[int, tuple[SimpleNamespace,
                                                                                     SimpleNamespace | None]]:
    """The exception rows and their account rows, as `billing.bundles.scope.load_exception` gives them."""
    found: dict[int, tuple[SimpleNamespace, SimpleNamespace | None]] = {}
    stmt = prepared("prefetch_exceptions", _exceptions_stmt)
    for part in _chunks(sorted(set(exception_ids))):
        for row in fetch_rows(session, stmt, ids=list(part)):
            m = row._mapping
            exception = SimpleNamespace(**{c.key: m[c.key] for c in _EXCEPTION_COLUMNS})
            account = (None if m["account__id"] is None
                       else SimpleNamespace(**{c.key: m[f"account__{c.key}"] for c in _ACCOUNT_COLUMNS}))
            found[exception.id] = (exception, account)
    return found


def _messages_stmt() -> Any:
    return (select(*_MESSAGE_FIELDS, Message.account_id, Account.account_key)
            .outerjoin(Account, Account.id == Message.account_id)
            .where(or_(Message.exception_id.in_(bindparam("ids", expanding=True)),
                       and_(Message.account_id.in_(bindparam("accounts", expanding=True)),
                            Message.received_at >= bindparam("lo"), Message.received_at < bindparam("hi"))))
            .order_by(Message.received_at, Message.message_id))


def prefetch_messages(session: Session, scopes: Sequence[CaseScope]) -> dict[int, list[MessageRecord]]:
    """Per exception: its attached messages and its account's in its money window, oldest first."""
    if not scopes:
        return {}
    ids = [s.exception_id for s in scopes if s.exception_id is not None]
    accounts = sorted({s.account_id for s in scopes if s.account_id is not None})
    lo = min(s.money_window[0] for s in scopes)
    hi = max(s.money_window[1] for s in scopes)
    rows = [dict(r._mapping) for r in fetch_rows(session, prepared("prefetch_messages", _messages_stmt),
                                                 ids=ids, accounts=accounts or [-1],
                                                 lo=at_midnight(lo), hi=at_midnight(hi))]
    found: dict[int, list[MessageRecord]] = {}
    for scope in scopes:
        m_lo, m_hi = (at_midnight(d) for d in scope.money_window)
        records = []
        for m in rows:  # already in the order fetch_messages uses
            attached = scope.exception_id is not None and m["exception_id"] == scope.exception_id
            around = (scope.account_id is not None and m["account_id"] == scope.account_id
                      and m_lo <= m["received_at"] < m_hi)
            if attached or around:
                fields = {k: v for k, v in m.items() if k not in ("exception_id", "account_id")}
                records.append(MessageRecord.model_validate(fields | {"linked_to_case": attached}))
        if scope.exception_id is not None:
            found[scope.exception_id] = records
    return found


def _usage_days_stmt(dialect_name: str) -> Any:
    day = utc_day(dialect_name, UsageRecord.usage_hour).label("day")
    return (select(UsageRecord.account_id, UsageRecord.product_code, UsageRecord.dimension_key, day,
                   func.sum(UsageRecord.quantity))
            .where(UsageRecord.account_id.in_(bindparam("accounts", expanding=True)),
                   UsageRecord.usage_hour >= bindparam("lo"), UsageRecord.usage_hour < bindparam("hi"))
            .group_by(UsageRecord.account_id, UsageRecord.product_code, UsageRecord.dimension_key, day))


def _by_window(scopes: Sequence[CaseScope], key: Any) -> dict[tuple[date, date], list[Any]]:
    """The distinct `key(scope)` values per usage window (one query per window reads no more
    days than the cases need: a chunk usually spans one or two periods)."""
    found: dict[tuple[date, date], set[Any]] = defaultdict(set)
    for scope in scopes:
        value = key(scope)
        if value is not None:
            found[scope.usage_window].add(value)
    return {window: sorted(values) for window, values in sorted(found.items())}


def prefetch_usage_days(session: Session, scopes: Sequence[CaseScope]) -> dict[tuple[int, tuple[date, date]], WindowRows]:
    """Our usage per account × product × dimension × UTC day, per (account, usage window) of the cases."""
    name = dialect(session)
    stmt = prepared(("prefetch_usage_days", name), lambda: _usage_days_stmt(name))
    found: dict[tuple[int, tuple[date, date]], WindowRows] = {}
    for (lo, hi), accounts in _by_window(scopes, lambda s: s.account_id).items():
        by_account: dict[int, list[tuple[str, str, date, Decimal]]] = defaultdict(list)
        for part in _chunks(accounts):
            for account_id, product, dim, day, qty in fetch_rows(session, stmt, accounts=list(part),
                                                                 lo=at_midnight(lo), hi=at_midnight(hi)):
                by_account[account_id].append(
                    (product, dim, day if isinstance(day, date) else date.fromisoformat(str(day)), qty))
        found.update({(a, (lo, hi)): WindowRows(lo, hi, tuple(by_account.get(a, ()))) for a in accounts})
    return found


def _partner_usage_stmt() -> Any:
    return select(
        PartnerUsage.usage_feed_id, PartnerUsage.usage_date, PartnerUsage.product_id, PartnerUsage.end_user_account_id,
        PartnerUsage.dimension_key, PartnerUsage.region, PartnerUsage.offer_id, PartnerUsage.usage_quantity,
        PartnerUsage.usage_rate_per_unit_in_pricing_currency).where(
        PartnerUsage.end_user_account_id.in_(bindparam("aws_ids", expanding=True)),
        PartnerUsage.usage_date >= bindparam("lo"), PartnerUsage.usage_date < bindparam("hi"))


def prefetch_partner_usage(session: Session,
                           scopes: Sequence[CaseScope]) -> dict[tuple[str, tuple[date, date]], WindowRows]:
    """The partner's daily usage rows per (AWS account, usage window) of the cases."""
    found: dict[tuple[str, tuple[date, date]], WindowRows] = {}
    for (lo, hi), aws_ids in _by_window(scopes, lambda s: s.aws_account_id or None).items():
        by_account: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for part in _chunks(aws_ids):
            for row in fetch_rows(session, prepared("prefetch_partner_usage", _partner_usage_stmt),
                                  aws_ids=list(part), lo=lo, hi=hi):
                by_account[row[3]].append(tuple(row))
        found.update({(a, (lo, hi)): WindowRows(lo, hi, tuple(by_account.get(a, ()))) for a in aws_ids})
    return found


def _hours_stmt(at: Literal["range", "pairs"]) -> Any:
    # Every column of the natural key (account, product, dimension, hour) is bound, the hour
    # by a range, or with its account as (account, hour) pairs — each account's own hours, not
    # every account at every hour some case named: index range scans or lookups per account ×
    # product × dimension.
    hour = (and_(UsageRecord.usage_hour >= bindparam("lo"), UsageRecord.usage_hour < bindparam("hi")) if at == "range"
            else tuple_(UsageRecord.account_id, UsageRecord.usage_hour).in_(bindparam("pairs", expanding=True)))
    return (select(UsageRecord.account_id, UsageRecord.source_record_id, UsageRecord.product_code,
                   UsageRecord.dimension_key, UsageRecord.usage_hour, UsageRecord.quantity)
            .where(UsageRecord.account_id.in_(bindparam("accounts", expanding=True)),
                   UsageRecord.product_code.in_(bindparam("codes", expanding=True)),
                   UsageRecord.dimension_key.in_(bindparam("dims", expanding=True)), hour))


def _read_hours(session: Session, at: Literal["range", "pairs"], accounts: Iterable[int], codes: Sequence[str],
                dims: Sequence[str], params: Iterable[dict[str, Any]]) -> dict[int, list[UsageHour]]:
    """Per account, its rows of `codes` × `dims` at the hours each of `params` binds, sorted
    as `fetch_usage_hours` sorts them."""
    stmt = prepared(("prefetch_hours", at), lambda: _hours_stmt(at))
    by_account: dict[int, dict[tuple[str, str, datetime], UsageHour]] = defaultdict(dict)
    for part in _chunks(sorted(accounts)) if codes and dims else ():
        for bound in params:
            for account_id, rid, p, d, h, q in fetch_rows(session, stmt, accounts=list(part), codes=list(codes),
                                                          dims=list(dims), **bound):
                if h.tzinfo is None:  # as fetch_usage_hours reads it
                    h = datetime.fromisoformat(str(h)).replace(tzinfo=UTC)
                by_account[account_id].setdefault((p, d, h), UsageHour.from_db(
                    record_id=rid, product_code=p, dimension_key=d, usage_hour=h, quantity=q))
    return {a: sorted(rows.values(), key=lambda r: (r.product_code, r.dimension_key, r.usage_hour))
            for a, rows in by_account.items()}


def prefetch_usage_hours(session: Session, scopes: Sequence[CaseScope],
                         days: dict[tuple[int, tuple[date, date]], WindowRows]) -> dict[Hashable, HourRows]:
    """Our hourly rows as `get_usage_summary` shows them, for every product and dimension the
    cases' daily rows (`days`, from `prefetch_usage_days`) hold: at the period boundaries
    (`BOUNDARY_HOURS` at each end), keyed ``(USAGE_HOURS, account, ranges)`` (one query per
    boundary), and at the hours the exceptions name outside them, keyed ``(NAMED_HOURS,
    account)`` (one query)."""
    by_ranges: dict[tuple[tuple[datetime, datetime], ...], set[int]] = defaultdict(set)
    products: dict[tuple[tuple[datetime, datetime], ...], set[tuple[str, str]]] = defaultdict(set)
    named: dict[int, set[datetime]] = defaultdict(set)
    named_products: set[tuple[str, str]] = set()
    for scope in scopes:
        ahead = days.get((scope.account_id, scope.usage_window)) if scope.account_id is not None else None
        if ahead is None or scope.account_id is None:
            continue
        ranges = tuple(boundary_ranges(scope, BOUNDARY_HOURS))
        by_ranges[ranges].add(scope.account_id)
        products[ranges].update((p, d) for p, d, _, _ in ahead.rows)
        outside = {h for h in hours_named_in(scope.details, scope) if not any(lo <= h < hi for lo, hi in ranges)}
        if outside:
            named[scope.account_id] |= outside
            named_products.update((p, d) for p, d, _, _ in ahead.rows)
    found: dict[Hashable, HourRows] = {}
    for ranges, accounts in sorted(by_ranges.items()):
        codes, dims = sorted({p for p, _ in products[ranges]}), sorted({d for _, d in products[ranges]})
        rows = _read_hours(session, "range", accounts, codes, dims, [{"lo": lo, "hi": hi} for lo, hi in ranges])
        found.update({(USAGE_HOURS, a, ranges): HourRows(frozenset(codes), frozenset(dims), tuple(rows.get(a, ())),
                                                        ranges=ranges) for a in accounts})
    if named:
        codes, dims = sorted({p for p, _ in named_products}), sorted({d for _, d in named_products})
        pairs = sorted((a, h) for a, hours in named.items() for h in hours)
        rows = _read_hours(session, "pairs", named, codes, dims,
                           [{"pairs": list(part)} for part in _chunks(pairs)])
        found.update({(NAMED_HOURS, a): HourRows(frozenset(codes), frozenset(dims), tuple(
            r for r in rows.get(a, ()) if r.usage_hour in hours), hours=frozenset(hours)) for a, hours in named.items()})
    return found


@dataclass(frozen=True)
class CustomerMetering:
    """One customer's metering answers in one period: per product × dimension × status the
    count, quantity and first/last hour, and per product × dimension the first `rows_ahead`
    records not accepted (in `fetch_metering`'s order)."""

    span: tuple[datetime, datetime]
    rows_ahead: int
    counts: tuple[tuple[str, str, str, int, Decimal, datetime, datetime], ...]
    failed: tuple[MeteringResultRecord, ...]


def _metering_counts_stmt() -> Any:
    return (select(MeteringResult.customer_ref, MeteringResult.product_code, MeteringResult.dimension,
                   MeteringResult.status, func.count(), func.sum(MeteringResult.quantity),
                   func.min(MeteringResult.timestamp), func.max(MeteringResult.timestamp))
            .where(MeteringResult.customer_ref.in_(bindparam("refs", expanding=True)),
                   MeteringResult.timestamp >= bindparam("lo"), MeteringResult.timestamp < bindparam("hi"))
            .group_by(MeteringResult.customer_ref, MeteringResult.product_code, MeteringResult.dimension,
                      MeteringResult.status))


def _metering_failed_stmt() -> Any:
    # The first records of each customer × product × dimension: any case's first `limit` over
    # its customers, products and dimensions are among them (the order within one of them is
    # the order of the whole list).
    rank = func.row_number().over(
        partition_by=(MeteringResult.customer_ref, MeteringResult.product_code, MeteringResult.dimension),
        order_by=(MeteringResult.timestamp, MeteringResult.status)).label("rank")
    ranked = (select(*METERING_COLUMNS, rank)
              .where(MeteringResult.customer_ref.in_(bindparam("refs", expanding=True)),
                     MeteringResult.timestamp >= bindparam("lo"), MeteringResult.timestamp < bindparam("hi"),
                     NOT_ACCEPTED)
              .subquery())
    return select(*(ranked.c[c.key] for c in METERING_COLUMNS)).where(ranked.c.rank <= bindparam("rows"))


def prefetch_metering(session: Session, scopes: Sequence[CaseScope]) -> dict[tuple[str, tuple[datetime, datetime]],
                                                                               CustomerMetering]:
    """The metering answers per (customer reference, period) of the cases (see `CustomerMetering`)."""
    by_span: dict[tuple[datetime, datetime], set[str]] = defaultdict(set)
    for scope in scopes:
        by_span[(at_midnight(scope.start), at_midnight(scope.end))].update(scope.customer_refs())
    counts_stmt = prepared("prefetch_metering_counts", _metering_counts_stmt)
    failed_stmt = prepared("prefetch_metering_failed", _metering_failed_stmt)
    found: dict[tuple[str, tuple[datetime, datetime]], CustomerMetering] = {}
    for span, refs in sorted(by_span.items()):
        counts: dict[str, list[tuple[str, str, str, int, Decimal, datetime, datetime]]] = defaultdict(list)
        failed: dict[str, list[MeteringResultRecord]] = defaultdict(list)
        for part in _chunks(sorted(refs)):
            params = {"refs": list(part), "lo": span[0], "hi": span[1]}
            for ref, p, d, status, n, q, first, last in fetch_rows(session, counts_stmt, **params):
                counts[ref].append((p, d, status, n, q, as_utc(first), as_utc(last)))
            if any(c[2] != SUCCESS for ref in part for c in counts.get(ref, ())):
                for row in fetch_rows(session, failed_stmt, **params, rows=METERING_ROWS_AHEAD):
                    record = MeteringResultRecord.from_db(**row._mapping)
                    failed[record.customer_ref].append(record)
        found.update({(ref, span): CustomerMetering(span, METERING_ROWS_AHEAD, tuple(counts.get(ref, ())),
                                                    tuple(failed.get(ref, ()))) for ref in refs})
    return found


@dataclass
class ReadAhead:
    """What `read_ahead` read for a chunk: the exceptions with their accounts, each case's
    messages; the usage rows are pinned in `shared`. Not bound to a session: each thread of a
    batch builds its contexts on its own session (`context`)."""

    shared: EvidenceCache
    rows: dict[int, tuple[SimpleNamespace, SimpleNamespace | None]]
    messages: dict[int, list[MessageRecord]]

    def context(self, session: Session, exception_id: int) -> ToolContext | None:
        """The case's `ToolContext` on `session` (read-only), or None if it was not read ahead."""
        loaded = self.rows.get(exception_id)
        if loaded is None:
            return None
        exception, account = loaded
        ctx = ToolContext(session=session, account_id=exception.account_id, exception_id=exception.id,
                          channel=exception.channel, period=exception.period, shared=self.shared,
                          _scope=scope_of(exception, account))
        ctx.cache[("exception", exception.id)] = loaded
        if exception_id in self.messages:
            ctx.cache[(MESSAGES,)] = self.messages[exception_id]
        return ctx


def read_ahead(session: Session, exception_ids: Sequence[int], *, shared: EvidenceCache) -> ReadAhead:
    """Read a chunk of cases set-based (see the module doc); `shared` receives the usage rows."""
    rows = load_exceptions(session, exception_ids)
    scopes = [scope_of(exception, account) for exception, account in rows.values()]
    # Usage only for the cases whose rule calls for it: a month of hours is the biggest read.
    usage = [scope for scope, (exception, _) in zip(scopes, rows.values(), strict=True)
             if USAGE_TOOL in plan_for(exception.rule)]
    days = prefetch_usage_days(session, usage)
    for (account_id, window), day_rows in days.items():
        shared.pin((USAGE_DAYS, account_id, window), day_rows)
    for key, hours in prefetch_usage_hours(session, usage, days).items():
        shared.pin(key, hours)
    metering = [scope for scope, (exception, _) in zip(scopes, rows.values(), strict=True)
                if METERING_TOOL in plan_for(exception.rule)]
    for (ref, span), answers in prefetch_metering(session, metering).items():
        shared.pin((METERING, ref, span), answers)
    for (aws_id, window), partner in prefetch_partner_usage(session, usage).items():
        shared.pin((PARTNER_USAGE, aws_id, window), partner)
    return ReadAhead(shared=shared, rows=rows, messages=prefetch_messages(session, scopes))


def prefetch_contexts(session: Session, exception_ids: Sequence[int], *,
                      shared: EvidenceCache) -> dict[int, ToolContext]:
    """A `ToolContext` on `session` (read-only) per exception of `exception_ids` that exists, its
    first reads done set-based; `shared` receives the rows the tools slice."""
    ahead = read_ahead(session, exception_ids, shared=shared)
    return {i: ctx for i in ahead.rows if (ctx := ahead.context(session, i)) is not None}
