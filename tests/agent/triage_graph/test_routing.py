"""The routing policy: who must see a case, and the reasons every route carries.

Labels vocabulary: a case goes to a person for a material amount (≥ USD 10,000 at stake), a
category that always needs approval (refund_discrepancy, tax_discrepancy, channel_conflict),
suspicious outside text, or genuinely ambiguous evidence (low confidence).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from agent.routing import decide_route
from agent.schemas import Action, Category, Classification, EscalateTo
from agent.stake import amount_at_stake, stake_of
from agent.state import StakeInfo
from billing.db import session_factory
from billing.settings import RoutingSettings
from tests.agent.triage_graph.conftest import TriageFactory
from tests.agent.triage_graph.fakes import FakeBackend, add_exception, add_fx_rate

POLICY = RoutingSettings()


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    """Nothing here depends on the database kind: SQLite only (the PostgreSQL runs are elsewhere)."""
    return sqlite_engine


def _classification(category: Category = Category.DROPPED_METERING, confidence: float = 0.9,
                    escalate_to: EscalateTo = EscalateTo.INTERNAL, action: Action = Action.RESEND_METERING) -> Classification:
    return Classification(category=category, confidence=confidence, rationale="r", evidence_ids=[], sop_chunk_ids=[],
                          action=action, escalate_to=escalate_to, owner="billing-ops")


def _stake(usd: str | None, problem: str | None = None) -> StakeInfo:
    return StakeInfo(amount=usd, currency="USD", usd=usd, rate_date=None, problem=problem)


def _route(**kwargs: Any) -> Any:
    values: dict[str, Any] = {"policy": POLICY, "classification": _classification(), "stake": _stake("250.00"),
                                  "problems": [], "suspicious": [], "backend_errors": []}
    values.update(kwargs)
    return decide_route(**values)


def test_routine_case_is_auto_with_its_reasons() -> None:
    decision = _route()
    assert decision.route == "auto" and not decision.send_allowed
    assert decision.reasons == [
        "confidence 0.90 is at or above the threshold 0.80",
        "amount at stake USD 250.00 is below materiality USD 10,000.00",
        "category dropped_metering needs no approval",
        "every amount, id and date of the draft was found in the evidence",
        "no suspicious outside text",
    ]


def test_materiality_is_inclusive() -> None:
    """At USD 10,000 exactly the case is material (≥)."""
    assert _route(stake=_stake("9999.99")).route == "auto"
    decision = _route(stake=_stake("10000.00"))
    assert decision.route == "human"
    assert decision.reasons == ["amount at stake USD 10,000.00 is at or above materiality USD 10,000.00"]


def test_low_confidence_goes_to_a_person() -> None:
    decision = _route(classification=_classification(confidence=0.79))
    assert decision.reasons == ["confidence 0.79 is below the threshold 0.80"]


def test_always_review_categories() -> None:
    for category in (Category.REFUND_DISCREPANCY, Category.TAX_DISCREPANCY, Category.CHANNEL_CONFLICT):
        decision = _route(classification=_classification(category=category, action=Action.INVESTIGATE))
        assert decision.route == "human"
        assert decision.reasons == [f"category {category.value} always needs approval"]


def test_every_reason_is_listed() -> None:
    decision = _route(classification=_classification(confidence=0.5, category=Category.TAX_DISCREPANCY),
                      stake=_stake("20000"), problems=["body: amount 'USD 1.00' is not in the evidence"],
                      suspicious=["outside text m1 from partner asks for automatic routing"])
    assert decision.route == "human"
    assert decision.reasons == [
        "suspicious outside text: outside text m1 from partner asks for automatic routing",
        "check failed: body: amount 'USD 1.00' is not in the evidence",
        "amount at stake USD 20,000.00 is at or above materiality USD 10,000.00",
        "confidence 0.50 is below the threshold 0.80",
        "category tax_discrepancy always needs approval",
    ]


def test_a_check_failing_twice_on_the_same_figure_is_one_reason() -> None:
    problem = "body: amount 'USD 1.00' is not in the evidence"
    decision = _route(classification=_classification(), stake=_stake("20"), problems=[problem, problem])
    assert decision.reasons.count(f"check failed: {problem}") == 1


def test_backend_failure_and_unknown_amount() -> None:
    decision = _route(classification=None, backend_errors=["classify: BackendError: 503"],
                      stake=_stake(None, "no FX rate for EUR in fx_rates; the USD value is unknown"))
    assert decision.route == "human"
    assert decision.reasons == [
        "backend failed after retries: classify: BackendError: 503",
        "materiality unknown: no FX rate for EUR in fx_rates; the USD value is unknown",
    ]


def test_nothing_is_sent_without_approval_unless_policy_allows() -> None:
    partner = _classification(category=Category.PRICE_MISMATCH, escalate_to=EscalateTo.PARTNER,
                              action=Action.REQUEST_PARTNER_CORRECTION)
    held = _route(classification=partner)
    assert held.route == "auto" and not held.send_allowed
    assert "proposed only: the email is not sent until a person approves it" in held.reasons
    policy = RoutingSettings(auto_send_categories=["price_mismatch"], auto_send_below_usd=Decimal(500))
    assert _route(policy=policy, classification=partner).send_allowed
    assert not _route(policy=policy, classification=partner, stake=_stake("500.00")).send_allowed


def test_amount_at_stake() -> None:
    assert amount_at_stake({"delta_amount": "-250.5"}) == Decimal("250.5")
    assert amount_at_stake({"expected_amount": "-10", "observed_amount": "4"}) == Decimal(10)
    assert amount_at_stake({}) is None


def test_non_usd_amount_converts_at_the_month_end_rate(engine: Engine) -> None:
    """DOMAIN.md: disbursement currencies include EUR; fx_rates give USD per unit per day.
    The rate of the last day of the period (or the latest before it) applies."""
    add_fx_rate(engine, "EUR", date(2026, 10, 30), "1.10")
    add_fx_rate(engine, "EUR", date(2026, 11, 2), "1.50")  # after the period: not used
    stake = stake_of(session_factory(engine), {"currency": "EUR", "period": "2026-10", "delta_amount": "-9500.00"})
    missing = stake_of(session_factory(engine), {"currency": "GBP", "period": "2026-10", "delta_amount": "-1.00"})
    assert stake == StakeInfo(amount="9500.00", currency="EUR", usd="10450.00", rate_date="2026-10-30", problem=None)
    assert missing["usd"] is None and missing["problem"] == "no FX rate for GBP in fx_rates; the USD value is unknown"


def test_eur_case_below_threshold_in_eur_is_material_in_usd(engine: Engine, make_triage: TriageFactory,
                                                           backend: FakeBackend) -> None:
    """EUR 9,500 is under 10,000 as a number but USD 10,450 at stake: a person approves."""
    add_fx_rate(engine, "EUR", date(2026, 10, 31), "1.10")
    exception_id = add_exception(engine, currency="EUR", expected="10000.00", observed="500.00")
    outcome = make_triage().case(exception_id)
    assert outcome.route == "human"
    assert outcome.reasons == ["amount at stake USD 10,450.00 is at or above materiality USD 10,000.00"]
