"""Case tools: the exception, the account's history and how it ended, messages, SOP search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from billing.db import transaction
from billing.models import utcnow
from billing.models.triage import CaseExample, ReviewItem, TriageRun
from tests.tools.case_world import World
from tools import (
    ToolArgumentsError,
    ToolContext,
    call_tool,
    get_account_history,
    get_exception,
    get_messages,
    read_only_session,
    search_sops,
)


def test_get_exception_returns_the_case_with_amounts_as_decimals(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        exception = get_exception(ToolContext.for_exception(session, world.case_id))
    assert (exception.id, exception.rule, exception.account_key) == (world.case_id, "usage_vs_partner_usage", "ACME-0001")
    dumped = exception.model_dump(mode="json")
    assert (dumped["delta_amount"], dumped["delta_quantity"]) == ("-0.236", "-118")


def test_history_lists_the_accounts_other_exceptions_and_how_they_ended(engine: Engine, world: World) -> None:
    """A person's review decision outranks the agent's proposal; another account's exceptions never appear."""
    with transaction(engine) as session:
        now = utcnow()
        session.add(TriageRun(thread_id="t-money", exception_id=world.money_case_id, status="done", backend="offline",
                              model="rules", prompt_version="1", evidence_hash="x", category="short_payment",
                              action="chase_payment", escalate_to="partner", route="auto"))
        review = ReviewItem(thread_id="t-earlier", exception_id=world.earlier_case_id, status="decided")
        session.add(review)
        session.flush()
        session.add(CaseExample(exception_id=world.earlier_case_id, review_item_id=review.id, rule="metering_gaps",
                                kind="metering_missing_hours", channel="aws_marketplace", period="2026-09",
                                text="t", category="dropped_metering", action="resend_metering",
                                escalate_to="internal", accepted=True, decision="approve", reviewer="ana",
                                evidence_hash="x", created_at=now, updated_at=now))
    with read_only_session(engine) as session:
        history = get_account_history(ToolContext.for_exception(session, world.case_id))
        one = get_account_history(ToolContext.for_exception(session, world.case_id), limit=1)
    entries = {e.exception_id: e for e in history.entries}
    assert set(entries) == {world.money_case_id, world.earlier_case_id}
    assert (entries[world.money_case_id].resolution.decided_by, entries[world.money_case_id].resolution.category) == (
        "agent", "short_payment")
    assert (entries[world.earlier_case_id].resolution.decided_by, entries[world.earlier_case_id].close_reason) == (
        "review", "difference vanished")
    assert [e.exception_id for e in one.entries] == [world.money_case_id]  # latest period first


def test_messages_attached_to_the_case_and_to_the_account(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        messages = get_messages(ToolContext.for_exception(session, world.case_id)).messages
    assert [(m.message_id, m.linked_to_case) for m in messages] == [("msg-acme-1", True), ("msg-acme-2", False)]


@dataclass
class Hit:
    chunk_id: str
    sop_id: str
    version: str
    heading: str
    text: str
    score: float


class FakeSearch:
    """Stands in for `knowledge.search` (same arguments), recording what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Sequence[str] | None, Sequence[str] | None, int]] = []

    def __call__(self, query: str, categories: Sequence[str] | None, channels: Sequence[str] | None,
                 k: int) -> list[Hit]:
        self.calls.append((query, categories, channels, k))
        return [Hit(f"sop-{i}", "dropped_metering", "3", "Resend within 6 hours", "Resend the records.", 1.0 - i / 10)
                for i in range(10)]


def test_sop_search_filters_to_the_cases_channel(engine: Engine, world: World) -> None:
    fake = FakeSearch()
    with read_only_session(engine) as session:
        ctx = ToolContext.for_exception(session, world.case_id, sop_search=fake)
        result = search_sops(ctx, query="resend missing metering", categories=["dropped_metering"], k=3)
        with pytest.raises(ToolArgumentsError):
            call_tool(ctx, "search_sops", {"query": "x y z", "channels": ["direct"]})
    assert fake.calls == [("resend missing metering", ["dropped_metering"], ["aws_marketplace"], 3)]
    assert [p.chunk_id for p in result.passages] == ["sop-0", "sop-1", "sop-2"]
    assert result.passages[0].citation == "dropped_metering v3 § Resend within 6 hours"
