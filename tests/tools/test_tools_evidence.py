"""gather_evidence: the tools a rule calls for, in a fixed order, as plain JSON with citable ids."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from billing.db import transaction
from billing.models import Discrepancy, utcnow
from tests.tools.case_world import World
from tools import (
    PLANS,
    EvidenceCache,
    ToolContext,
    cited_ids,
    evidence_hash,
    gather_evidence,
    gather_evidence_batch,
    plan_for,
    read_only_session,
)
from tools.evidence import DEFAULT_PLAN


def test_a_usage_difference_gathers_usage_metering_and_agreements(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        evidence = gather_evidence(ToolContext.for_exception(session, world.case_id))
    assert list(evidence) == ["get_exception", "get_contract_terms", "get_agreement_state", "get_usage_summary",
                              "get_metering_results", "get_account_history", "get_messages"]
    assert json.loads(json.dumps(evidence)) == evidence  # plain JSON
    assert evidence["get_usage_summary"]["totals"][0]["ours"] == "659"  # decimals as strings


def test_a_money_difference_gathers_events_fees_cash_and_invoices(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        evidence = gather_evidence(ToolContext.for_exception(session, world.money_case_id))
    assert list(evidence)[2:6] == ["get_partner_billing_events", "check_listing_fee", "get_payments_and_disbursements",
                                   "get_invoices_and_credits"]
    ids = cited_ids(evidence)
    assert {"be-acme-gross", "be-payout-1", "INV-2026-10-0001", "PAY-DISB-777", "CN-0001", "RR-0001",
            "C-ACME-0001", "msg-acme-2", "TRACE-777"} <= ids


def test_evidence_is_deterministic_and_the_shared_cache_changes_nothing(engine: Engine, world: World) -> None:
    with read_only_session(engine) as session:
        alone = [gather_evidence(ToolContext.for_exception(session, i)) for i in (world.case_id, world.money_case_id)]
        cache = EvidenceCache()
        batch = gather_evidence_batch(session, [world.case_id, world.money_case_id], shared=cache)
        again = gather_evidence_batch(session, [world.case_id, world.money_case_id], shared=cache)
    assert list(batch.values()) == alone == list(again.values())
    assert evidence_hash(alone[0]) == evidence_hash(json.loads(json.dumps(alone[0])))
    assert cache.hits > 0 and len(cache) > 0


@pytest.mark.parametrize("rule", [*sorted(PLANS), "a_rule_nobody_planned"])
def test_every_rule_gets_its_plan_and_every_planned_tool_answers(engine: Engine, world: World, rule: str) -> None:
    now = utcnow()
    with transaction(engine) as session:
        row = Discrepancy(natural_key=f"{rule}:x:2026-10:1", rule=rule, kind="x", status="open",
                          account_id=world.acme_id, channel="aws_marketplace", period="2026-10",
                          currency="USD", delta_amount=Decimal(-1), record_refs={}, details={},
                          evidence_hash="", first_seen_at=now, last_seen_at=now, updated_at=now)
        session.add(row)
        session.flush()
        exception_id = row.id
    with read_only_session(engine) as session:
        evidence = gather_evidence(ToolContext.for_exception(session, exception_id))
    assert tuple(evidence) == plan_for(rule)
    assert plan_for(rule)[2:-2] == PLANS.get(rule, DEFAULT_PLAN)
    assert [name for name, result in evidence.items() if "error" in result] == []


def test_a_case_without_an_account_still_gathers(engine: Engine, world: World) -> None:
    """A payout-level difference has no buyer account: the tools answer with what the exception names."""
    now = utcnow()
    with transaction(engine) as session:
        row = Discrepancy(natural_key="disbursement_integrity:bank_receipt_missing:2026-10:-", rule="disbursement_integrity",
                          kind="bank_receipt_missing", status="open", account_id=None, channel="aws_marketplace",
                          period="2026-10", record_refs={"billing_events": [world.payout_id]}, details={},
                          evidence_hash="", first_seen_at=now, last_seen_at=now, updated_at=now)
        session.add(row)
        session.flush()
        exception_id = row.id
    with read_only_session(engine) as session:
        evidence = gather_evidence(ToolContext.for_exception(session, exception_id))
    events = {e["billing_event_id"] for e in evidence["get_partner_billing_events"]["events"]}
    # With no account in scope the payout is the case: every row it pays, and what those rows settle.
    assert {world.payout_id, "be-acme-disb", world.globex_event_id, "be-acme-gross", "be-globex-gross"} <= events
    assert "be-acme-withdrawn" not in events
    assert [p["payment_id"] for p in evidence["get_payments_and_disbursements"]["payments"]] == ["PAY-DISB-777"]
