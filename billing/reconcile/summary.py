"""What a reconciliation run leaves to work on: open exceptions by kind and channel, and the
run's own counts per rule — the figures `triage reconcile` and `make demo` print."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.models import Discrepancy, ExceptionStatus
from billing.reconcile.evidence import exact
from billing.reconcile.findings import ApplyStats
from billing.reconcile.registry import RunReport

# Still someone's work: raised, triaged by the agent, or waiting for a person.
OPEN_STATUSES = (ExceptionStatus.OPEN, ExceptionStatus.TRIAGED, ExceptionStatus.IN_REVIEW)


@dataclass(frozen=True)
class OpenExceptions:
    """Open exceptions of one kind and channel in one currency, and the amount at stake (Σ |delta|)."""

    kind: str
    channel: str
    currency: str | None
    count: int
    amount_at_stake: Decimal


def open_exceptions(session: Session, periods: Iterable[str] | None = None) -> list[OpenExceptions]:
    """Open exceptions grouped by kind, channel and currency (largest amount at stake first)."""
    d = Discrepancy
    query = (
        select(d.kind, d.channel, d.currency, func.count().label("n"),
               func.sum(func.abs(func.coalesce(d.delta_amount, 0))).label("at_stake"))
        .where(d.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(d.kind, d.channel, d.currency)
    )
    if periods is not None:
        query = query.where(d.period.in_(list(periods)))
    rows = [OpenExceptions(r.kind, r.channel, r.currency, r.n, exact(r.at_stake)) for r in session.execute(query)]
    return sorted(rows, key=lambda r: (-r.amount_at_stake, r.kind, r.channel, r.currency or ""))


def totals_per_rule(reports: Iterable[RunReport]) -> dict[str, ApplyStats]:
    """The run's opened/updated/unchanged/closed/reopened per rule, summed over its months."""
    totals: dict[str, ApplyStats] = {}
    for report in reports:
        for rule, stats in report.per_rule.items():
            total = totals.setdefault(rule, ApplyStats())
            total.opened += stats.opened
            total.updated += stats.updated
            total.unchanged += stats.unchanged
            total.closed += stats.closed
            total.reopened += stats.reopened
    return dict(sorted(totals.items()))
