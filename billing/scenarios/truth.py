"""Link the exceptions reconciliation raised to the faults the generator injected.

An exception is explained by a fault when they share account (both None for unidentified
cash), period, product and dimension (compared only where both sides name one), and the
exception's rule is one the fault expects. A fault no exception explains is a reconciliation
*miss*; an exception no fault explains is a *false alarm*."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import Account, Discrepancy, ExceptionStatus
from billing.scenarios.truth_model import TruthEntry, read_truth, write_truth

__all__ = [
    "MatchedException",
    "TruthEntry",
    "TruthMatch",
    "match_truth",
    "read_truth",
    "write_truth",
]


@dataclass(frozen=True)
class MatchedException:
    """The parts of an exception that matching looks at (and reports on)."""

    id: int
    rule: str
    kind: str
    account_key: str | None
    period: str
    product_code: str | None
    dimension_key: str | None
    channel: str
    currency: str | None = None
    delta_amount: Decimal | None = None


class TruthMatch(dict[int, TruthEntry]):
    """exception id → the fault that explains it; plus what matched nothing on either side."""

    def __init__(
        self,
        links: dict[int, TruthEntry],
        misses: list[TruthEntry],
        false_alarms: list[MatchedException],
        exceptions: dict[int, MatchedException],
    ) -> None:
        super().__init__(links)
        self.misses = misses  # faults no exception revealed
        self.false_alarms = false_alarms  # exceptions no fault explains
        self.exceptions = exceptions  # every exception considered, by id

    def found(self) -> list[TruthEntry]:
        """Faults with at least one linked exception (each once, in truth order)."""
        seen = {entry.fault_id: entry for entry in self.values()}
        return list(seen.values())

    def summary(self) -> dict[str, int]:
        """Counts for reports: exceptions, linked, false alarms, faults found and missed."""
        return {
            "exceptions": len(self.exceptions),
            "linked": len(self),
            "false_alarms": len(self.false_alarms),
            "faults_found": len(self.found()),
            "misses": len(self.misses),
            "non_benign_misses": sum(not m.benign for m in self.misses),
        }


def _same(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def explains(entry: TruthEntry, exc: MatchedException) -> bool:
    """Whether `entry` is a cause of `exc` (see the module docstring)."""
    return (
        entry.account_key == exc.account_key
        and entry.period == exc.period
        and exc.rule in entry.expected_rules
        and _same(entry.product_code, exc.product_code)
        and _same(entry.dimension_key, exc.dimension_key)
    )


def load_exceptions(session: Session, *, include_closed: bool = False) -> list[MatchedException]:
    """The raised exceptions with their account keys (closed ones only when asked)."""
    query = (
        select(
            Discrepancy.id,
            Discrepancy.rule,
            Discrepancy.kind,
            Account.account_key.label("account_key"),
            Discrepancy.period,
            Discrepancy.product_code,
            Discrepancy.dimension_key,
            Discrepancy.channel,
            Discrepancy.currency,
            Discrepancy.delta_amount,
        )
        .outerjoin(Account, Account.id == Discrepancy.account_id)
        .order_by(Discrepancy.id)
    )
    if not include_closed:
        query = query.where(Discrepancy.status != ExceptionStatus.CLOSED)
    return [MatchedException(**row) for row in session.execute(query).mappings()]


def match_exceptions(
    exceptions: Sequence[MatchedException], truth_entries: Iterable[TruthEntry]
) -> TruthMatch:
    """Match in memory (the pure core of `match_truth`).

    When several faults could explain an exception, prefer the one expecting its kind, then one
    no exception explains yet (two faults of the same grain — e.g. two unapplied receipts of one
    customer in a month — each get one), then the one whose amount is closest to the exception's
    delta, then the one naming product and dimension, then the earlier fault."""
    entries = list(truth_entries)
    order = {e.fault_id: n for n, e in enumerate(entries)}
    links: dict[int, TruthEntry] = {}
    linked: dict[str, int] = {}
    false_alarms: list[MatchedException] = []
    for exc in exceptions:
        candidates = [e for e in entries if explains(e, exc)]
        if not candidates:
            false_alarms.append(exc)
            continue
        best = min(
            candidates,
            key=lambda e: (
                exc.kind not in e.expected_kinds,
                linked.get(e.fault_id, 0),
                _amount_gap(e, exc),
                e.product_code is None,
                e.dimension_key is None,
                order[e.fault_id],
            ),
        )
        links[exc.id] = best
        linked[best.fault_id] = linked.get(best.fault_id, 0) + 1
    misses = [e for e in entries if e.fault_id not in linked]
    return TruthMatch(links, misses, false_alarms, {e.id: e for e in exceptions})


def _amount_gap(entry: TruthEntry, exc: MatchedException) -> Decimal:
    """How far the exception's |delta| is from the fault's amount at stake (same currency only)."""
    if exc.delta_amount is None or exc.currency != entry.currency:
        return Decimal("Infinity")
    return abs(abs(Decimal(exc.delta_amount)) - entry.amount_at_stake)


def match_truth(
    session: Session, truth_entries: Iterable[TruthEntry], *, include_closed: bool = False
) -> TruthMatch:
    """Link the open exceptions in the database to `truth_entries`.

    Returns a dict of exception id → TruthEntry; `.misses` lists faults no exception matched
    (reconciliation misses) and `.false_alarms` the exceptions no fault explains."""
    return match_exceptions(load_exceptions(session, include_closed=include_closed), truth_entries)
