"""What every tool receives first: a read-only session and the scope of the case.

The account (the tenant) comes from the case — the exception being triaged, or the account a
person opened the chat on — and never from a model's arguments. A tool asked about a record of
another account answers with `ToolScopeError`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from billing.bundles.scope import CaseScope, ScopeError, load_exception, scope_for_account, scope_of
from tools.readonly import is_read_only


class ToolError(RuntimeError):
    """A tool could not answer; the message says why, in words a model or a person can act on."""


class ToolArgumentsError(ToolError, ValueError):
    """The arguments of a tool call are not valid (unknown tool, bad JSON, wrong types, extra fields)."""


class ToolScopeError(ToolError, ScopeError):
    """The record asked for is not in this case's scope (another account's, or not there at all)."""


class SopHit(Protocol):
    """What a SOP search returns per passage (`knowledge.Passage` satisfies it)."""

    chunk_id: str
    sop_id: str
    version: str
    heading: str
    text: str
    score: float


SopSearch = Callable[[str, Sequence[str] | None, Sequence[str] | None, int], Sequence[SopHit]]
"""`(query, categories, channels, k) -> passages`: the SOP search the tools call (injectable for tests)."""


class EvidenceCache:
    """Query results that depend only on their key (account, products, period...), shared by the
    cases of one batch: an account × product with three exceptions has its month of hourly
    usage summed once, not three times. Bounded (least recently used entries go first) and
    thread-safe; only for one consistent view of the data (one batch, one snapshot)."""

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._pinned: dict[Hashable, Any] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value under `key`, computed by `compute()` on a miss."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
        value = compute()  # outside the lock: two threads may compute the same key once each
        with self._lock:
            self.misses += 1
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def pin(self, key: Hashable, value: Any) -> None:
        """Keep `value` under `key` for the cache's life (rows read ahead for many cases: never evicted)."""
        with self._lock:
            self._pinned[key] = value

    def pinned(self, key: Hashable) -> Any | None:
        """What `pin` keeps under `key`, or None."""
        with self._lock:
            return self._pinned.get(key)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class ToolContext:
    """A read-only session and the case's scope: account, exception, channel, period.

    Build it with `for_exception` (triage) or `for_account` (a chat about an account and
    period). Results computed once per case (contracts, products) are cached on it."""

    session: Session
    account_id: int | None
    exception_id: int | None = None
    channel: str | None = None
    period: str | None = None
    sop_search: SopSearch | None = None
    shared: EvidenceCache | None = None
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    _scope: CaseScope | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not is_read_only(self.session):
            raise ValueError("a ToolContext needs a read-only session: open it with tools.read_only_session(engine)")

    @classmethod
    def for_exception(cls, session: Session, exception_id: int, *, sop_search: SopSearch | None = None,
                      shared: EvidenceCache | None = None) -> ToolContext:
        """The context of triaging exception `exception_id` (its account, channel and period).

        Cases of one batch may pass the same `shared` cache (see `EvidenceCache`)."""
        try:
            exception, account = load_exception(session, exception_id)
        except ScopeError as exc:
            raise ToolScopeError(str(exc)) from None
        ctx = cls(session=session, account_id=exception.account_id, exception_id=exception.id,
                  channel=exception.channel, period=exception.period, sop_search=sop_search,
                  shared=shared, _scope=scope_of(exception, account))
        ctx.cache[("exception", exception.id)] = (exception, account)
        return ctx

    @classmethod
    def for_account(cls, session: Session, account_id: int, period: str, *, channel: str | None = None,
                    sop_search: SopSearch | None = None) -> ToolContext:
        """The context of a question about one account and period, without a particular exception."""
        try:
            scope = scope_for_account(session, account_id, period, channel)
        except ScopeError as exc:
            raise ToolScopeError(str(exc)) from None
        return cls(session=session, account_id=account_id, channel=channel, period=period,
                   sop_search=sop_search, _scope=scope)

    def scope(self) -> CaseScope:
        """The case's scope (built once); a context whose exception belongs to another account is refused."""
        if self._scope is None:
            if self.exception_id is not None:
                exception, account = load_exception(self.session, self.exception_id)
                self._scope = scope_of(exception, account)
            elif self.account_id is not None and self.period is not None:
                self._scope = scope_for_account(self.session, self.account_id, self.period, self.channel)
            else:
                raise ToolError("this context has neither an exception nor an account and period to look at")
        if self._scope.account_id != self.account_id:
            raise ToolScopeError(f"exception {self.exception_id} does not belong to account {self.account_id}")
        return self._scope

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """`compute()` once per context (per case), then the same value."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def shared_value(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Like `cached`, and shared with the other cases of the batch when there is a shared cache.

        `key` must hold everything the value depends on (account, products, period, ids...)."""
        if key not in self.cache:
            self.cache[key] = self.shared.get_or_compute(key, compute) if self.shared is not None else compute()
        return self.cache[key]
