"""Queries about the case itself: the exception, the account's earlier exceptions and how they
ended, and the partner or customer messages that came with it."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from billing.bundles.records import ExceptionRecord, MessageRecord, PriorException, PriorResolution
from billing.bundles.scope import CaseScope, at_midnight
from billing.models import Account, Discrepancy, Message
from billing.models.triage import CaseExample, RunStatus, TriageRun

#: How many earlier exceptions a case shows.
HISTORY_LIMIT = 20


def exception_record(exception: Discrepancy, account_key: str | None) -> ExceptionRecord:
    """The bundle form of an exception row (no database ids)."""
    return ExceptionRecord(
        natural_key=exception.natural_key, rule=exception.rule, kind=exception.kind,
        status=exception.status,  # type: ignore[arg-type]
        account_key=account_key, channel=exception.channel, period=exception.period,
        product_code=exception.product_code, dimension_key=exception.dimension_key, currency=exception.currency,
        expected_amount=exception.expected_amount, observed_amount=exception.observed_amount,
        delta_amount=exception.delta_amount, expected_quantity=exception.expected_quantity,
        observed_quantity=exception.observed_quantity, delta_quantity=exception.delta_quantity,
        record_refs=exception.record_refs or {}, details=exception.details or {},
        description=exception.description or "", evidence_hash=exception.evidence_hash or "",
        first_seen_at=exception.first_seen_at, last_seen_at=exception.last_seen_at,
        updated_at=exception.updated_at, closed_at=exception.closed_at, close_reason=exception.close_reason,
    )


def fetch_history(session: Session, scope: CaseScope, limit: int = HISTORY_LIMIT) -> list[tuple[int, PriorException]]:
    """The account's other exceptions up to the case's period, latest first, each with how it ended
    (a person's review decision when there is one, else the agent's last finished run)."""
    if scope.account_id is None:
        return []
    query = (select(Discrepancy).where(Discrepancy.account_id == scope.account_id,
                                       Discrepancy.period <= scope.period)
             .order_by(Discrepancy.period.desc(), Discrepancy.natural_key).limit(limit + 1))
    rows = [d for d in session.scalars(query) if d.id != scope.exception_id][:limit]
    if not rows:
        return []
    resolutions = _resolutions(session, [d.id for d in rows])
    return [(d.id, PriorException(
        natural_key=d.natural_key, rule=d.rule, kind=d.kind, period=d.period, status=d.status, channel=d.channel,
        product_code=d.product_code, dimension_key=d.dimension_key, currency=d.currency,
        delta_amount=d.delta_amount, description=d.description or "", close_reason=d.close_reason,
        resolution=resolutions.get(d.id))) for d in rows]


def _resolutions(session: Session, exception_ids: list[int]) -> dict[int, PriorResolution]:
    found: dict[int, PriorResolution] = {}
    latest = (select(func.max(TriageRun.id)).where(TriageRun.exception_id.in_(exception_ids),
                                                   TriageRun.status == RunStatus.DONE)
              .group_by(TriageRun.exception_id))
    for run in session.scalars(select(TriageRun).where(TriageRun.id.in_(latest))):
        found[run.exception_id] = PriorResolution(decided_by="agent", category=run.category, action=run.action,
                                                  escalate_to=run.escalate_to, route=run.route)
    # A person's decision outranks the agent's proposal.
    for example in session.scalars(select(CaseExample).where(CaseExample.exception_id.in_(exception_ids))):
        found[example.exception_id] = PriorResolution(
            decided_by="review", category=example.category, action=example.action,
            escalate_to=example.escalate_to, decision=example.decision)
    return found


def fetch_messages(session: Session, scope: CaseScope) -> list[MessageRecord]:
    """Messages attached to the exception, and the account's messages received in the money window."""
    wanted = []
    if scope.exception_id is not None:
        wanted.append(Message.exception_id == scope.exception_id)
    if scope.account_id is not None:
        lo, hi = (at_midnight(d) for d in scope.money_window)
        wanted.append(and_(Message.account_id == scope.account_id,
                           Message.received_at >= lo, Message.received_at < hi))
    if not wanted:
        return []
    rows = session.execute(
        select(Message, Account.account_key).outerjoin(Account, Account.id == Message.account_id)
        .where(or_(*wanted)).order_by(Message.received_at, Message.message_id)
    ).all()
    return [MessageRecord(
        message_id=m.message_id, account_key=key, channel=m.channel, sender=m.sender,  # type: ignore[arg-type]
        sender_role=m.sender_role, received_at=m.received_at, subject=m.subject or "", body=m.body,  # type: ignore[arg-type]
        linked_to_case=scope.exception_id is not None and m.exception_id == scope.exception_id)
        for m, key in rows]
