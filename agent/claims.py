"""Leases on open exceptions, so that batch processes can share them.

Any number of `triage batch` processes, on one machine or many, on SQLite or PostgreSQL,
split the open exceptions between them, and no exception is triaged twice.

A worker claims up to `size` open exceptions in one statement. It takes only those nobody
holds, or whose holder's lease has lapsed. On PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets
concurrent workers pass over each other's rows instead of waiting on them. SQLite runs one
writing statement at a time, so the same statement is atomic there as well.

A claim is a lease. While the worker triages its cases it renews the lease. If the worker
dies, the lease lapses at `claim_expires_at` and its cases go back to the others. Triaging
a case moves it out of `open`: its status is committed with its outcome, and that ends the
claim. The worker releases whatever it did not finish, so the next batch can take it at once.
"""

from __future__ import annotations

import os
import socket
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, Select, Table, bindparam, or_, select, update

from billing.models import Discrepancy, ExceptionStatus, utcnow

_T = Discrepancy.__table__
_IDS_PER_STATEMENT = 500


def worker_name(batch_id: str) -> str:
    """Who holds a claim: host, process and batch, so a person can tell which run has a case."""
    return f"{socket.gethostname()}/{os.getpid()}/{batch_id}"[:128]


def claim_statement(table: Table, pick: Select[Any], values: dict[str, Any], returning: Sequence[Any]) -> Any:
    """One statement that claims queue rows: ``UPDATE`` the rows whose ids `pick` selects (its
    order and limit decide which) with `values`, returning `returning`. On PostgreSQL the pick
    is ``FOR UPDATE SKIP LOCKED``, so concurrent claims pass over each other's rows; SQLite,
    which ignores it, runs one writing statement at a time. Run it first in its transaction."""
    picked = pick.with_for_update(skip_locked=True).cte("picked")
    return update(table).where(table.c.id == picked.c.id).values(values).returning(*returning)


def _take_stmt(with_period: bool) -> Any:
    free = or_(_T.c.claim_expires_at.is_(None), _T.c.claim_expires_at <= bindparam("now"))
    pick = select(_T.c.id).where(_T.c.status == ExceptionStatus.OPEN.value, free)
    if with_period:
        pick = pick.where(_T.c.period == bindparam("of_period"))
    # Oldest first, as a single batch takes them.
    return claim_statement(_T, pick.order_by(_T.c.id).limit(bindparam("n")),
                           {"claimed_by": bindparam("worker"), "claim_expires_at": bindparam("until")}, [_T.c.id])


_TAKE = {with_period: _take_stmt(with_period) for with_period in (False, True)}
_HELD = (_T.c.id.in_(bindparam("ids", expanding=True)), _T.c.claimed_by == bindparam("worker"))
_RENEW = update(_T).where(*_HELD, _T.c.status == ExceptionStatus.OPEN.value).values(claim_expires_at=bindparam("until"))
_RELEASE = update(_T).where(*_HELD).values(claimed_by=None, claim_expires_at=None)


def holder(row: Discrepancy) -> str | None:
    """Who holds a live claim on the exception, if anyone does."""
    live = row.claim_expires_at is not None and row.claim_expires_at > utcnow()
    return row.claimed_by if live and row.status == ExceptionStatus.OPEN else None


@dataclass
class Claims:
    """One worker's claims. Every call is its own short transaction."""

    engine: Engine
    worker: str
    lease: timedelta

    def take(self, n: int, *, period: str | None = None) -> list[int]:
        """Claim up to `n` open exceptions (of `period`) that nobody holds, oldest first."""
        now = utcnow()
        params: dict[str, Any] = {"now": now, "n": n, "worker": self.worker, "until": now + self.lease}
        if period:
            params["of_period"] = period
        # The claim is the transaction's first statement: on SQLite it takes the write lock
        # with a fresh snapshot, so two workers cannot both see a row as free.
        with self.engine.begin() as connection:
            return sorted(connection.execute(_TAKE[bool(period)], params).scalars())

    def renew(self, ids: Iterable[int]) -> None:
        """Extend the lease on those of `ids` this worker still holds and that are still open."""
        self._update(_RENEW, ids, until=utcnow() + self.lease)

    def release(self, ids: Iterable[int]) -> None:
        """Give up this worker's claims on `ids` (a case that failed, or that was not reached)."""
        self._update(_RELEASE, ids)

    def _update(self, statement: Any, ids: Iterable[int], **params: Any) -> None:
        wanted = sorted(set(ids))
        if not wanted:
            return
        with self.engine.begin() as connection:
            for i in range(0, len(wanted), _IDS_PER_STATEMENT):  # under both databases' parameter limits
                connection.execute(statement, {"ids": wanted[i:i + _IDS_PER_STATEMENT], "worker": self.worker,
                                               **params})

    @contextmanager
    def renewed(self, held: Callable[[], Sequence[int]]) -> Iterator[None]:
        """Renew the lease on `held()` every third of the lease until the block ends (a slow
        backend can take longer than one lease over a claim)."""
        stop = threading.Event()

        def keep() -> None:
            while not stop.wait(self.lease.total_seconds() / 3):
                try:
                    self.renew(held())
                except Exception as exc:  # noqa: BLE001 - a busy database now is no reason to stop renewing
                    warnings.warn(f"claims of {self.worker}: renewal failed, retried in a third of the lease: "
                                  f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=1)

        thread = threading.Thread(target=keep, name="claims-renewal", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
