"""At a high fault rate every category of the agreed vocabulary appears, with the special cases:
benign timing differences, look-alikes, two-cause faults, and partner/customer messages."""

from __future__ import annotations

import json
from typing import Any

from billing.scenarios import ScenarioSummary, read_truth
from billing.scenarios.messages import INJECTIONS
from billing.taxonomy import CATEGORIES


def _messages(summary: ScenarioSummary) -> list[dict[str, Any]]:
    lines = (summary.out / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_every_category_appears(rich_scenario: ScenarioSummary) -> None:
    truth = read_truth(rich_scenario.out / "truth.jsonl")
    assert {t.category for t in truth} == set(CATEGORIES)
    assert set(rich_scenario.faults_by_category) == set(CATEGORIES)


def test_benign_look_alike_and_two_cause_cases(rich_scenario: ScenarioSummary) -> None:
    """DOMAIN.md: a timing difference is "right amount, wrong period ... nets out next period"."""
    truth = read_truth(rich_scenario.out / "truth.jsonl")
    benign = [t for t in truth if t.benign]
    assert benign and all(
        t.category == "timing_difference" and t.action == "no_action_timing" for t in benign
    )
    # The next month of a timing difference carries the counterpart (partner saw more there).
    counterparts = [t for t in benign if "." in t.fault_id]
    assert counterparts and all(t.expected_kinds == ["usage_excess"] for t in counterparts)
    looks = {(t.category, t.look_alike_of) for t in truth if t.look_alike_of}
    assert ("listing_fee_mismatch", "short_payment") in looks
    assert ("wrong_dimension", "dropped_metering") in looks
    two = [t for t in truth if t.second_category]
    assert two and all(t.second_category != t.category and t.route == "human" for t in two)


def test_messages_vary_and_some_try_to_instruct_the_model(rich_scenario: ScenarioSummary) -> None:
    """DESIGN.md: outside text is data, never instructions; text that tries to instruct goes to a person."""
    messages = _messages(rich_scenario)
    truth = read_truth(rich_scenario.out / "truth.jsonl")
    by_id = {m["message_id"]: m for m in messages}
    assert {m["sender_role"] for m in messages} >= {"partner", "customer", "internal"}
    openings = {m["body"].split("\n", 1)[0][:12] for m in messages}
    assert len(openings) >= 3  # formal, casual, terse, annoyed...
    suspicious = [
        t for t in truth if any(i in by_id[m]["body"] for m in t.message_ids for i in INJECTIONS)
    ]
    assert suspicious and all(t.route == "human" for t in suspicious)
    assert rich_scenario.suspicious_messages == len(suspicious)
    linked = {m for t in truth for m in t.message_ids}
    assert linked <= set(by_id)
