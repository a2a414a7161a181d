"""A rule's output, and how findings become exceptions idempotently.

A rule returns `Finding`s for one period. `apply_findings` upserts them by natural key:
a new key opens an exception, a known key whose evidence changed is updated, and an open
exception of the same rule and period whose key was not found again is closed with the
reason — the difference vanished. Rules never guess a cause; they state a difference.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import Discrepancy, ExceptionStatus, utcnow

# Exceptions a person or the agent has already taken up are not reopened by a re-run, only updated.
_CLOSABLE = (ExceptionStatus.OPEN, ExceptionStatus.TRIAGED, ExceptionStatus.IN_REVIEW)


@dataclass(frozen=True)
class Finding:
    """One difference found by a rule, at the grain the rule compares."""

    rule: str
    kind: str
    period: str  # YYYY-MM
    channel: str
    account_id: int | None
    key_parts: tuple[str, ...]  # the grain, beyond rule/period/account (product, dimension, ids...)
    description: str
    product_code: str | None = None
    dimension_key: str | None = None
    currency: str | None = None
    expected_amount: Decimal | None = None
    observed_amount: Decimal | None = None
    expected_quantity: Decimal | None = None
    observed_quantity: Decimal | None = None
    record_refs: dict[str, list[str]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def natural_key(self) -> str:
        parts = [self.rule, self.kind, self.period, str(self.account_id or "-"), *self.key_parts]
        return ":".join(parts)[:255]

    @property
    def delta_amount(self) -> Decimal | None:
        if self.expected_amount is None or self.observed_amount is None:
            return None
        return self.observed_amount - self.expected_amount

    @property
    def delta_quantity(self) -> Decimal | None:
        if self.expected_quantity is None or self.observed_quantity is None:
            return None
        return self.observed_quantity - self.expected_quantity

    def evidence_hash(self) -> str:
        """Stable hash of everything the rule computed (amounts normalised, refs sorted)."""
        payload = {
            "amounts": [_norm(v) for v in (self.expected_amount, self.observed_amount,
                                            self.expected_quantity, self.observed_quantity)],
            "currency": self.currency,
            "refs": {k: sorted(v) for k, v in sorted(self.record_refs.items())},
            "details": self.details,
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


def _norm(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


@dataclass
class ApplyStats:
    """What one rule's run changed."""

    opened: int = 0
    updated: int = 0
    unchanged: int = 0
    closed: int = 0
    reopened: int = 0


def apply_findings(session: Session, *, rule: str, period: str, findings: Iterable[Finding]) -> ApplyStats:
    """Upsert `findings` of `rule` for `period` and close that rule's vanished exceptions."""
    stats = ApplyStats()
    existing = {
        d.natural_key: d
        for d in session.scalars(select(Discrepancy).where(Discrepancy.rule == rule, Discrepancy.period == period))
    }
    now = utcnow()
    seen: set[str] = set()
    for f in findings:
        key = f.natural_key
        if key in seen:  # a rule yielding the same grain twice is a bug in the rule, not in the data
            raise ValueError(f"rule {rule} produced duplicate natural key {key}")
        seen.add(key)
        digest = f.evidence_hash()
        row = existing.get(key)
        if row is None:
            session.add(_new_row(f, digest, now))
            stats.opened += 1
            continue
        row.last_seen_at = now
        if row.status == ExceptionStatus.CLOSED:
            row.status, row.closed_at, row.close_reason = ExceptionStatus.OPEN, None, None
            stats.reopened += 1
        if row.evidence_hash == digest:
            stats.unchanged += 1
            continue
        _copy_into(row, f, digest)
        row.updated_at = now
        stats.updated += 1
    for key, row in existing.items():
        if key not in seen and row.status in _CLOSABLE:
            row.status, row.closed_at = ExceptionStatus.CLOSED, now
            row.close_reason = f"difference no longer found by rule {rule} on the run of {now:%Y-%m-%d %H:%M} UTC"
            stats.closed += 1
    return stats


def _new_row(f: Finding, digest: str, now: Any) -> Discrepancy:
    row = Discrepancy(natural_key=f.natural_key, rule=f.rule, status=ExceptionStatus.OPEN,
                      first_seen_at=now, last_seen_at=now, updated_at=now, source="reconcile")
    _copy_into(row, f, digest)
    return row


def _copy_into(row: Discrepancy, f: Finding, digest: str) -> None:
    row.kind, row.period, row.channel, row.account_id = f.kind, f.period, f.channel, f.account_id
    row.product_code, row.dimension_key, row.currency = f.product_code, f.dimension_key, f.currency
    row.expected_amount, row.observed_amount, row.delta_amount = f.expected_amount, f.observed_amount, f.delta_amount
    row.expected_quantity, row.observed_quantity = f.expected_quantity, f.observed_quantity
    row.delta_quantity = f.delta_quantity
    row.record_refs = {k: sorted(v) for k, v in f.record_refs.items()}
    row.details = json.loads(json.dumps(f.details, default=str))
    row.description = f.description
    row.evidence_hash = digest
