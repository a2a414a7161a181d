"""The scope of a case: whose records, which period, which windows around it.

Every query behind a bundle or an evidence tool is bounded by a `CaseScope`: one account
(never another), the exception's period, and the windows derived from it. It is built once
per case from the exception row (or from an account and a period, for a chat without a case).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from billing.bundles.fetch.sql import fetch_rows, prepared
from billing.bundles.records import AccountRecord
from billing.models import Account, Discrepancy

#: Usage is summed over the period plus this many days either side (timing differences at 00:00 UTC).
USAGE_MARGIN_DAYS = 1
#: Money arrives after the period: invoices early next month, cash 35–45 days after the invoice
#: at net-30 (DOMAIN.md), refunds and credits later still. Payments, credits, refunds and
#: messages are looked for this many days past the period's end.
MONEY_TAIL_DAYS = 75
#: Hours at each end of the period shown hour by hour (AWS rejects records 6 h late).
BOUNDARY_HOURS = 6


class ScopeError(LookupError):
    """The case, account or record asked for is not there, or not in this case's scope."""


def month_bounds(period: str) -> tuple[date, date]:
    """First day of `period` (YYYY-MM) and the first day of the next month (a half-open range)."""
    try:
        year, month = (int(part) for part in period.split("-"))
        start = date(year, month, 1)
    except ValueError as exc:
        raise ValueError(f"period {period!r} is not YYYY-MM") from exc
    return start, date(year + month // 12, month % 12 + 1, 1)


def at_midnight(day: date) -> datetime:
    """00:00 UTC of `day` (AWS cuts periods at 00:00 UTC)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class CaseScope:
    """Whose records and which dates a case may see."""

    period: str
    account_id: int | None
    account: AccountRecord | None
    channel: str | None = None
    exception_id: int | None = None
    product_code: str | None = None
    dimension_key: str | None = None
    record_refs: dict[str, list[str]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def start(self) -> date:
        return month_bounds(self.period)[0]

    @cached_property
    def end(self) -> date:
        """First day after the period."""
        return month_bounds(self.period)[1]

    @cached_property
    def usage_window(self) -> tuple[date, date]:
        """Days of usage shown: the period ± `USAGE_MARGIN_DAYS` (half-open)."""
        margin = timedelta(days=USAGE_MARGIN_DAYS)
        return self.start - margin, self.end + margin

    @cached_property
    def money_window(self) -> tuple[date, date]:
        """Days in which the period's cash, credits, refunds and messages arrive (half-open)."""
        return self.start, self.end + timedelta(days=MONEY_TAIL_DAYS)

    @property
    def aws_account_id(self) -> str | None:
        return self.account.aws_account_id if self.account else None

    @property
    def account_key(self) -> str | None:
        return self.account.account_key if self.account else None

    def customer_refs(self) -> list[str]:
        """What metering calls this account: its SaaS CustomerIdentifier or its AWS account id."""
        if self.account is None:
            return []
        return [ref for ref in (self.account.aws_customer_identifier, self.account.aws_account_id) if ref]

    def refs(self, kind: str) -> list[str]:
        """The ids of `kind` the exception names in its record_refs."""
        return [str(v) for v in self.record_refs.get(kind, [])]


def account_record(account: Any) -> AccountRecord:
    """The bundle form of an account row."""
    return AccountRecord(
        account_key=account.account_key, name=account.name, aws_account_id=account.aws_account_id,
        aws_customer_identifier=account.aws_customer_identifier,
        azure_subscription_id=account.azure_subscription_id,
        gcp_billing_account_id=account.gcp_billing_account_id,
    )


_EXCEPTION_COLUMNS = list(Discrepancy.__table__.columns)
_ACCOUNT_COLUMNS = [c for c in Account.__table__.columns if c.key != "created_at"]


def _exception_stmt() -> Any:
    return (select(*_EXCEPTION_COLUMNS, *(c.label(f"account__{c.key}") for c in _ACCOUNT_COLUMNS))
            .outerjoin(Account, Account.id == Discrepancy.account_id)
            .where(Discrepancy.id == bindparam("exception_id")))


def load_exception(session: Session, exception_id: int) -> tuple[SimpleNamespace, SimpleNamespace | None]:
    """The exception row and its account row (attribute access, column names), or ScopeError."""
    rows = fetch_rows(session, prepared("exception", _exception_stmt), exception_id=exception_id)
    if not rows:
        raise ScopeError(f"no exception with id {exception_id}")
    m = rows[0]._mapping
    exception = SimpleNamespace(**{c.key: m[c.key] for c in _EXCEPTION_COLUMNS})
    if m["account__id"] is None:
        return exception, None
    return exception, SimpleNamespace(**{c.key: m[f"account__{c.key}"] for c in _ACCOUNT_COLUMNS})


def scope_of(exception: Any, account: Any | None) -> CaseScope:
    """The scope of an exception already loaded."""
    return CaseScope(
        period=exception.period, account_id=exception.account_id,
        account=account_record(account) if account is not None else None,
        channel=exception.channel, exception_id=exception.id, product_code=exception.product_code,
        dimension_key=exception.dimension_key,
        record_refs={k: [str(v) for v in vs] for k, vs in (exception.record_refs or {}).items() if isinstance(vs, list)},
        details=dict(exception.details or {}),
    )


def scope_for_exception(session: Session, exception_id: int) -> CaseScope:
    """The scope of one exception: its account, period, product and the records it names."""
    return scope_of(*load_exception(session, exception_id))


def scope_for_account(session: Session, account_id: int, period: str, channel: str | None = None) -> CaseScope:
    """The scope of a question about one account and period, without a particular exception."""
    month_bounds(period)  # validates the period
    account = session.get(Account, account_id)
    if account is None:
        raise ScopeError(f"no account with id {account_id}")
    return CaseScope(period=period, account_id=account_id, account=account_record(account), channel=channel)
