"""Linking exceptions to faults: grain, rule, the tie-breaks, misses and false alarms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from billing.db import transaction
from billing.models import Account, Discrepancy
from billing.scenarios.truth import MatchedException, TruthEntry, match_exceptions, match_truth


def truth(fault_id: str, **over: Any) -> TruthEntry:
    fields: dict[str, Any] = {
        "fault_id": fault_id,
        "category": "dropped_metering",
        "action": "rebill",
        "escalate_to": "internal",
        "route": "auto",
        "account_key": "ACME-0001",
        "channel": "aws_marketplace",
        "period": "2026-10",
        "product_code": "p1",
        "dimension_key": "api_calls",
        "expected_rules": ["usage_vs_partner_usage", "metering_gaps"],
        "expected_kinds": ["usage_shortfall", "metering_missing_hours"],
        "amount_at_stake": Decimal("10.00"),
        "currency": "USD",
        "benign": False,
    }
    fields.update(over)
    return TruthEntry(**fields)


def exc(id_: int, **over: Any) -> MatchedException:
    fields: dict[str, Any] = {
        "id": id_,
        "rule": "usage_vs_partner_usage",
        "kind": "usage_shortfall",
        "account_key": "ACME-0001",
        "period": "2026-10",
        "product_code": "p1",
        "dimension_key": "api_calls",
        "channel": "aws_marketplace",
    }
    fields.update(over)
    return MatchedException(**fields)


def test_same_grain_and_expected_rule_links() -> None:
    result = match_exceptions(
        [exc(1), exc(2, rule="metering_gaps", kind="metering_missing_hours")], [truth("F1")]
    )
    assert set(result) == {1, 2} and result[1].fault_id == "F1"
    assert result.misses == [] and result.false_alarms == []


def test_other_account_period_rule_or_dimension_is_a_false_alarm_and_the_fault_a_miss() -> None:
    others = [
        exc(1, account_key="OTHER-0002"),
        exc(2, period="2026-11"),
        exc(3, rule="forgiven_charges"),
        exc(4, dimension_key="storage_gb"),
    ]
    result = match_exceptions(others, [truth("F1")])
    assert dict(result) == {}
    assert [e.id for e in result.false_alarms] == [1, 2, 3, 4]
    assert [t.fault_id for t in result.misses] == ["F1"]
    assert result.summary()["non_benign_misses"] == 1


def test_missing_grain_on_either_side_is_not_compared() -> None:
    """An account-level exception (no product) still matches a product-level fault, and vice versa."""
    result = match_exceptions(
        [exc(1, product_code=None, dimension_key=None), exc(2)], [truth("F1", dimension_key=None)]
    )
    assert set(result) == {1, 2}


def test_unknown_payer_matches_only_a_fault_without_account() -> None:
    cash = truth(
        "F9",
        category="other",
        account_key=None,
        product_code=None,
        dimension_key=None,
        expected_rules=["direct_payments"],
        expected_kinds=["unapplied_cash"],
        channel="direct",
    )
    result = match_exceptions(
        [
            exc(
                1,
                rule="direct_payments",
                kind="unapplied_cash",
                account_key=None,
                product_code=None,
                dimension_key=None,
            )
        ],
        [cash, truth("F1")],
    )
    assert result[1].fault_id == "F9"


def test_two_faults_of_one_grain_each_get_an_exception() -> None:
    """Two unapplied receipts of one customer in a month: neither fault is reported missed."""
    kw = {
        "category": "other",
        "product_code": None,
        "dimension_key": None,
        "expected_rules": ["direct_payments"],
        "expected_kinds": ["unapplied_cash"],
        "channel": "direct",
    }
    faults = [
        truth("F1", amount_at_stake=Decimal("500.00"), **kw),
        truth("F2", amount_at_stake=Decimal("80.00"), **kw),
    ]
    cash = {
        "rule": "direct_payments",
        "kind": "unapplied_cash",
        "product_code": None,
        "dimension_key": None,
        "currency": "USD",
    }
    result = match_exceptions(
        [
            exc(1, delta_amount=Decimal("80.00"), **cash),
            exc(2, delta_amount=Decimal("500.00"), **cash),
        ],
        faults,
    )
    assert (result[1].fault_id, result[2].fault_id) == ("F2", "F1")  # closest amount wins
    assert result.misses == []


def test_the_fault_expecting_the_kind_wins() -> None:
    shortfall = truth("F1")
    excess = truth("F2", category="duplicate_metering", expected_kinds=["usage_excess"])
    result = match_exceptions([exc(1, kind="usage_excess")], [shortfall, excess])
    assert result[1].fault_id == "F2"


def test_match_truth_reads_open_exceptions_with_their_account_keys(engine: Engine) -> None:
    with transaction(engine) as session:
        acme = Account(account_key="ACME-0001", name="Acme")
        session.add(acme)
        session.flush()
        for n, (account_id, status) in enumerate(
            ((acme.id, "open"), (None, "open"), (acme.id, "closed"))
        ):
            session.add(
                Discrepancy(
                    natural_key=f"k{n}",
                    rule="usage_vs_partner_usage",
                    kind="usage_shortfall",
                    status=status,
                    account_id=account_id,
                    channel="aws_marketplace",
                    period="2026-10",
                    product_code="p1",
                    dimension_key="api_calls",
                    evidence_hash="x",
                    record_refs={},
                    details={},
                )
            )
    with transaction(engine) as session:
        result = match_truth(session, [truth("F1")])
        with_closed = match_truth(session, [truth("F1")], include_closed=True)
    assert len(result) == 1 and len(result.false_alarms) == 1  # the closed one is not considered
    assert len(with_closed.exceptions) == 3
