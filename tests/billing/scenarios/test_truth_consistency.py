"""The ground truth agrees with the data it describes: grains exist, periods are the scenario's,
rules are real rules, routes follow the policy, and amounts can be recomputed from the files."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from billing.money import quantize
from billing.reconcile.rules import ALL_RULES
from billing.scenarios import ScenarioSummary, read_truth
from billing.scenarios.truth_model import write_truth
from billing.settings import RoutingSettings

from .conftest import read_csv

ALWAYS_HUMAN = {"refund_discrepancy", "tax_discrepancy", "channel_conflict"}


def _contracts(out: Path) -> dict[str, Any]:
    return yaml.safe_load((out / "contracts.yaml").read_text(encoding="utf-8"))


def test_every_line_names_a_real_grain(rich_scenario: ScenarioSummary) -> None:
    doc = _contracts(rich_scenario.out)
    accounts = {a["account_key"] for a in doc["accounts"]}
    products = {p["product_code"]: {d["key"] for d in p["dimensions"]} for p in doc["products"]}
    rules = {m.RULE for m in ALL_RULES}
    for t in read_truth(rich_scenario.out / "truth.jsonl"):
        assert t.period in rich_scenario.periods
        assert t.account_key is None and t.category == "other" or t.account_key in accounts
        assert t.product_code is None or t.product_code in products
        assert t.dimension_key is None or t.dimension_key in products[t.product_code or ""]
        assert t.expected_rules and set(t.expected_rules) <= rules, t
        assert t.expected_kinds and t.amount_at_stake > 0
        assert t.benign == (t.category == "timing_difference")


def test_routes_follow_the_policy(rich_scenario: ScenarioSummary) -> None:
    """Human for always-reviewed categories and two causes; auto never for material USD amounts."""
    policy = RoutingSettings()
    for t in read_truth(rich_scenario.out / "truth.jsonl"):
        if t.category in ALWAYS_HUMAN or t.second_category or t.category == "other":
            assert t.route == "human", t
        if t.route == "auto" and t.currency == "USD":
            assert t.amount_at_stake < policy.materiality_usd, t


def test_usage_fault_amounts_match_the_files(rich_scenario: ScenarioSummary) -> None:
    """Usage faults: |Σ ours − Σ partner's| for the month × the contracted rate is the amount at stake."""
    out = rich_scenario.out
    doc = _contracts(out)
    aws_id = {a["account_key"]: a.get("aws_account_id") for a in doc["accounts"]}
    rates = {
        (c["account_key"], c["product_code"], r["dimension_key"]): Decimal(r["unit_price"])
        for c in doc["contracts"]
        if c["channel"] != "direct"
        for r in c["rates"]
    }
    ours: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for row in read_csv(out / "usage.csv"):
        ours[
            (row["account_key"], row["product_code"], row["dimension_key"], row["usage_hour"][:7])
        ] += int(row["quantity"])
    prod_code = {p["marketplace_product_id"]: p["product_code"] for p in doc["products"]}
    theirs: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for row in read_csv(out / "partner-usage.csv"):
        theirs[
            (
                row["end_user_account_id"],
                prod_code[row["product_id"]],
                row["dimension_key"],
                row["usage_date"][:7],
            )
        ] += int(row["usage_quantity"])
    checked = 0
    for t in read_truth(out / "truth.jsonl"):
        if t.category not in ("dropped_metering", "duplicate_metering") or t.second_category:
            continue
        key = (t.account_key or "", t.product_code or "", t.dimension_key or "", t.period)
        gap = abs(ours[key] - theirs[(aws_id[t.account_key or ""], *key[1:])])
        assert quantize(gap * rates[key[:3]], t.currency) == t.amount_at_stake, t
        checked += 1
    assert checked >= 2


def test_listing_fee_fault_amounts_match_the_feed(
    rich_scenario: ScenarioSummary, rich_files: dict[str, Any]
) -> None:
    """Listing fee: |fee charged − gross × contracted rate| (DOMAIN.md fee schedule on the contract)."""
    doc = _contracts(rich_scenario.out)
    fee_rate = {
        (c["account_key"], c["product_code"]): Decimal(c["listing_fee_rate"])
        for c in doc["contracts"]
        if c.get("listing_fee_rate")
    }
    aws_to_key = {a.get("aws_account_id"): a["account_key"] for a in doc["accounts"]}
    prod_code = {p["marketplace_product_id"]: p["product_code"] for p in doc["products"]}
    gross: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    fee: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for r in rich_files["billing-events"]:
        if r["action"] != "INVOICED":
            continue
        key = (
            aws_to_key.get(r["end_user_account_id"], ""),
            prod_code.get(r["product_id"], ""),
            r["usage_period_start_date"][:7],
        )
        if r["transaction_type"] == "SELLER_REV_SHARE":
            gross[key] += Decimal(r["amount"])
        elif r["transaction_type"] == "AWS_REV_SHARE":
            fee[key] += -Decimal(r["amount"])
    checked = 0
    for t in read_truth(rich_scenario.out / "truth.jsonl"):
        if t.category != "listing_fee_mismatch" or t.second_category:
            continue
        key = (t.account_key or "", t.product_code or "", t.period)
        expected = abs(fee[key] - gross[key] * fee_rate[key[:2]])
        assert abs(expected - t.amount_at_stake) <= Decimal("0.01"), t
        checked += 1
    assert checked >= 1


def test_truth_round_trips(rich_scenario: ScenarioSummary, tmp_path: Path) -> None:
    truth = read_truth(rich_scenario.out / "truth.jsonl")
    write_truth(tmp_path / "t.jsonl", truth)
    assert read_truth(tmp_path / "t.jsonl") == truth
    assert (tmp_path / "t.jsonl").read_bytes() == (rich_scenario.out / "truth.jsonl").read_bytes()


def test_rejected_metering_escalation_follows_the_agreement_feed(
    rich_scenario: ScenarioSummary, rich_files: dict[str, Any]
) -> None:
    """The rejected metering runbook's decision step 1 decides who is asked, so the files must
    show it: a stale mapping (internal) has the contract's agreement SUPERSEDED by an ACTIVE
    REPLACE agreement; a customer to ask has its agreement ACTIVE and not replaced."""
    doc = _contracts(rich_scenario.out)
    agreements = {a["agreement_id"]: a for a in rich_files["agreements"]}
    successors = {a["preceding_agreement_id"]: a for a in rich_files["agreements"] if a["preceding_agreement_id"]}
    seen = set()
    for t in read_truth(rich_scenario.out / "truth.jsonl"):
        if t.category != "rejected_metering":
            continue
        (contract,) = [c for c in doc["contracts"] if c["account_key"] == t.account_key
                       and c["product_code"] == t.product_code and c.get("agreement_id")]
        own, successor = agreements[contract["agreement_id"]], successors.get(contract["agreement_id"])
        if t.escalate_to == "internal":
            assert t.action == "fix_metering_mapping" and own["status"] == "SUPERSEDED", t
            assert successor is not None and successor["status"] == "ACTIVE" and successor["intent"] == "REPLACE"
            assert successor["start_time"] == own["end_time"]
        else:
            assert (t.escalate_to, t.action) == ("customer", "resend_metering"), t
            assert own["status"] == "ACTIVE" and successor is None, t
        seen.add(t.escalate_to)
    assert seen == {"internal", "customer"}


def test_partner_feeds_name_the_agreement_the_buyer_is_on(
    rich_scenario: ScenarioSummary, rich_files: dict[str, Any]
) -> None:
    """After a REPLACE agreement takes over, AWS's feeds name it, while our contract (a stale
    mapping) still names the old one: daily usage from the day it started, invoices from its
    month. Before it, they name the old one."""
    doc = _contracts(rich_scenario.out)
    replaced = {a["preceding_agreement_id"]: a for a in rich_files["agreements"]
                if a["intent"] == "REPLACE" and a["preceding_agreement_id"]}
    checked = 0
    for contract in doc["contracts"]:
        new = replaced.get(contract.get("agreement_id") or "")
        if new is None:
            continue
        aws_id = next(a["aws_account_id"] for a in doc["accounts"] if a["account_key"] == contract["account_key"])
        product = next(p["marketplace_product_id"] for p in doc["products"]
                       if p["product_code"] == contract["product_code"])
        started = new["start_time"][:10]
        usage = [r for r in rich_files["partner-usage"]
                 if r["end_user_account_id"] == aws_id and r["product_id"] == product]
        assert usage
        for row in usage:
            named = new["agreement_id"] if row["usage_date"] >= started else contract["agreement_id"]
            assert row["agreement_id"] == named, (row, started)
        events = [e for e in rich_files["billing-events"]
                  if e["end_user_account_id"] == aws_id and e["product_id"] == product
                  and e["transaction_type"] == "SELLER_REV_SHARE"]
        assert {e["agreement_id"] for e in events if e["usage_period_end_date"] >= started} == {new["agreement_id"]}
        assert {e["agreement_id"] for e in events if e["usage_period_end_date"] < started} <= {contract["agreement_id"]}
        checked += 1
    assert checked >= 1
