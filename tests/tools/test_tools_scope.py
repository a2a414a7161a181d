"""The account scope comes from the case: another tenant's records are never returned or reachable."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from tests.tools.case_world import World
from tools import (
    ToolArgumentsError,
    ToolContext,
    ToolError,
    ToolScopeError,
    call_tool,
    gather_evidence,
    read_only_session,
)

GLOBEX_MARKERS = ("GLOBEX", "444455556666", "be-globex", "INV-2026-10-GLBX", "msg-globex", "CN-GLBX", "PAY-GLBX",
                  "inv-aws-9999", "cust-globex")


def test_context_takes_account_channel_and_period_from_the_exception(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        ctx = ToolContext.for_exception(session, world.case_id)
        assert (ctx.account_id, ctx.channel, ctx.period) == (world.acme_id, "aws_marketplace", "2026-10")
        with pytest.raises(ToolScopeError):
            ToolContext.for_exception(session, 999_999)


@pytest.mark.parametrize("rule_case", ["case_id", "money_case_id"])
def test_evidence_of_one_account_holds_nothing_of_another(engine: Engine, world: World, rule_case: str) -> None:
    """The GLOBEX rows share ACME's product, days and payout; none of them may leak into ACME's case."""
    with read_only_session(engine) as session:
        evidence = gather_evidence(ToolContext.for_exception(session, getattr(world, rule_case)))
    text = json.dumps(evidence)
    assert [m for m in GLOBEX_MARKERS if m in text] == []
    assert "ACME-0001" in text


@pytest.mark.parametrize(("tool", "arguments"), [
    ("get_exception", "globex_case"),
    ("get_partner_billing_events", {"billing_event_id": "be-globex-disb"}),
    ("get_partner_billing_events", {"invoice_id": "inv-aws-9999"}),
    ("get_invoices_and_credits", {"invoice_number": "INV-2026-10-GLBX"}),
    ("check_listing_fee", {"invoice_id": "inv-aws-9999"}),
])
def test_asking_for_another_accounts_record_is_an_error(engine: Engine, world: World, tool: str,
                                                        arguments: object) -> None:
    if arguments == "globex_case":
        arguments = {"exception_id": world.globex_case_id}
    with read_only_session(engine) as session:
        ctx = ToolContext.for_exception(session, world.case_id)
        with pytest.raises(ToolScopeError, match="not in this case's scope"):
            call_tool(ctx, tool, arguments)  # type: ignore[arg-type]


def test_a_model_cannot_name_an_account(engine: Engine, world: World) -> None:
    """The tools have no account argument at all: naming one is an invalid call, not a switch of tenant."""
    with read_only_session(engine) as session:
        ctx = ToolContext.for_exception(session, world.case_id)
        for tool in ("get_usage_summary", "get_contract_terms", "get_payments_and_disbursements"):
            with pytest.raises(ToolArgumentsError, match="account_id"):
                call_tool(ctx, tool, json.dumps({"account_id": world.globex_id}))


def test_the_shared_payout_is_summed_over_every_buyer_without_listing_theirs(engine: Engine, world: World) -> None:
    """DOMAIN.md: a DISBURSED row points to its payout through disbursement_billing_event_id; the payout
    pays many buyers, so the case sees the payout's total, not the other buyer's row."""
    with read_only_session(engine) as session:
        result = call_tool(ToolContext.for_exception(session, world.money_case_id), "get_partner_billing_events")
    payout = next(p for p in result.payouts if p.billing_event_id == world.payout_id)
    assert (payout.rows_paid, payout.rows_total, payout.adds_up) == (2, Decimal(-4000), True)
    assert world.globex_event_id not in {e.billing_event_id for e in result.events}


def test_a_chat_about_an_account_and_period_sees_that_account_only(engine: Engine, world: World) -> None:
    """Without an exception, the scope is the account the person opened and the period they chose."""
    with read_only_session(engine) as session:
        ctx = ToolContext.for_account(session, world.acme_id, "2026-10", channel="aws_marketplace")
        usage = call_tool(ctx, "get_usage_summary", {"granularity": "day"})
        history = call_tool(ctx, "get_account_history")
        payments = call_tool(ctx, "get_payments_and_disbursements")
        with pytest.raises(ToolError, match="give exception_id"):
            call_tool(ctx, "get_exception")
        mine = call_tool(ctx, "get_exception", {"exception_id": world.money_case_id})
        with pytest.raises(ToolScopeError):
            call_tool(ctx, "get_exception", {"exception_id": world.globex_case_id})
        with pytest.raises(ToolScopeError):
            ToolContext.for_account(session, 999_999, "2026-10")
    assert {t.dimension_key for t in usage.totals} == {"api_calls", "storage_gb"}
    assert {e.exception_id for e in history.entries} == {world.case_id, world.money_case_id, world.earlier_case_id}
    assert "PAY-0001" in {p.payment_id for p in payments.payments} and mine.id == world.money_case_id
