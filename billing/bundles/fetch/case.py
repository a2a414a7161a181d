"""Queries about the case itself: the exception, the account's earlier exceptions and how they
ended, and the partner or customer messages that came with it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from billing.bundles.fetch.sql import fetch_rows, prepared
from billing.bundles.records import ExceptionRecord, MessageRecord, PriorException, PriorResolution
from billing.bundles.scope import CaseScope, at_midnight
from billing.models import Account, Discrepancy, Message
from billing.models.triage import CaseExample, RunStatus, TriageRun

#: How many earlier exceptions a case shows.
HISTORY_LIMIT = 20


def exception_record(exception: Any, account_key: str | None) -> ExceptionRecord:
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


def _history_stmt() -> Any:
    latest_run = (select(func.max(TriageRun.id)).where(TriageRun.exception_id == Discrepancy.id,
                                                        TriageRun.status == RunStatus.DONE)
                  .correlate(Discrepancy).scalar_subquery())
    return (
        select(Discrepancy.id, Discrepancy.natural_key, Discrepancy.rule, Discrepancy.kind, Discrepancy.period,
               Discrepancy.status, Discrepancy.channel, Discrepancy.product_code, Discrepancy.dimension_key,
               Discrepancy.currency, Discrepancy.delta_amount, Discrepancy.description, Discrepancy.close_reason,
               CaseExample.category.label("review_category"), CaseExample.action.label("review_action"),
               CaseExample.escalate_to.label("review_escalate_to"), CaseExample.decision.label("review_decision"),
               TriageRun.category.label("run_category"), TriageRun.action.label("run_action"),
               TriageRun.escalate_to.label("run_escalate_to"), TriageRun.route.label("run_route"),
               TriageRun.id.label("run_id"), CaseExample.id.label("review_id"))
        .outerjoin(CaseExample, CaseExample.exception_id == Discrepancy.id)
        .outerjoin(TriageRun, TriageRun.id == latest_run)
        .where(Discrepancy.account_id == bindparam("account_id"), Discrepancy.period <= bindparam("period"),
               Discrepancy.id != bindparam("exception_id"))
        .order_by(Discrepancy.period.desc(), Discrepancy.natural_key)
        .limit(bindparam("limit"))
    )


def fetch_history(session: Session, scope: CaseScope, limit: int = HISTORY_LIMIT) -> list[tuple[int, PriorException]]:
    """The account's other exceptions up to the case's period, latest first, each with how it ended
    (a person's review decision when there is one, else the agent's last finished run)."""
    if scope.account_id is None:
        return []
    rows = fetch_rows(session, prepared("history", _history_stmt), account_id=scope.account_id,
                      period=scope.period, exception_id=scope.exception_id or -1, limit=limit)
    history = []
    for m in (row._mapping for row in rows):
        resolution = None
        if m["review_id"] is not None:  # a person's decision outranks the agent's proposal
            resolution = PriorResolution(decided_by="review", category=m["review_category"],
                                         action=m["review_action"], escalate_to=m["review_escalate_to"],
                                         decision=m["review_decision"])
        elif m["run_id"] is not None:
            resolution = PriorResolution(decided_by="agent", category=m["run_category"], action=m["run_action"],
                                         escalate_to=m["run_escalate_to"], route=m["run_route"])
        history.append((m["id"], PriorException(
            natural_key=m["natural_key"], rule=m["rule"], kind=m["kind"], period=m["period"], status=m["status"],
            channel=m["channel"], product_code=m["product_code"], dimension_key=m["dimension_key"],
            currency=m["currency"], delta_amount=m["delta_amount"], description=m["description"] or "",
            close_reason=m["close_reason"], resolution=resolution)))
    return history


_MESSAGE_FIELDS = [c for c in Message.__table__.columns if c.key not in ("id", "account_id")]


def fetch_messages(session: Session, scope: CaseScope) -> list[MessageRecord]:
    """Messages attached to the exception, and the account's messages received in the money window."""
    if scope.exception_id is None and scope.account_id is None:
        return []
    lo, hi = (at_midnight(d) for d in scope.money_window)
    stmt = prepared("messages", lambda: (
        select(*_MESSAGE_FIELDS, Account.account_key).outerjoin(Account, Account.id == Message.account_id)
        .where(or_(Message.exception_id == bindparam("exception_id"),
                   and_(Message.account_id == bindparam("account_id"), Message.received_at >= bindparam("lo"),
                        Message.received_at < bindparam("hi"))))
        .order_by(Message.received_at, Message.message_id)))
    rows = fetch_rows(session, stmt, exception_id=scope.exception_id or -1, account_id=scope.account_id or -1,
                      lo=lo, hi=hi)
    records = []
    for row in rows:
        m = dict(row._mapping)
        attached_to = m.pop("exception_id")
        linked = scope.exception_id is not None and attached_to == scope.exception_id
        records.append(MessageRecord.model_validate(m | {"linked_to_case": linked}))
    return records
