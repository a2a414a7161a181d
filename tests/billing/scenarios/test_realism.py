"""The generated data looks like the real feeds (DOMAIN.md) wherever no fault was injected."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import yaml

from billing.fees import expected_listing_fee_rate
from billing.money import quantize
from billing.scenarios import ScenarioSummary, read_truth

from .conftest import read_csv


def _doc(summary: ScenarioSummary) -> dict[str, Any]:
    return yaml.safe_load((summary.out / "contracts.yaml").read_text(encoding="utf-8"))


def _faulted_accounts(summary: ScenarioSummary) -> set[str | None]:
    return {t.account_key for t in read_truth(summary.out / "truth.jsonl")}


def test_identifiers_have_the_partners_shapes(
    rich_scenario: ScenarioSummary, rich_files: dict[str, Any]
) -> None:
    """DOMAIN.md: feed ids are 40 characters; AWS accounts 12 digits; products `prod-…`; 25-char codes."""
    doc = _doc(rich_scenario)
    for a in doc["accounts"]:
        assert a.get("aws_account_id") is None or re.fullmatch(r"[1-9]\d{11}", a["aws_account_id"])
    for p in doc["products"]:
        assert re.fullmatch(r"[a-z0-9]{25}", p["product_code"])
        assert re.fullmatch(r"prod-[a-z0-9]{13}", p["marketplace_product_id"])
        assert len(p["dimensions"]) >= 2
    for c in doc["contracts"]:
        assert c.get("agreement_id") is None or re.fullmatch(
            r"agmt-[a-z0-9]{25}", c["agreement_id"]
        )
        assert c.get("offer_id") is None or re.fullmatch(r"offer-[a-z0-9]{13}", c["offer_id"])
    assert all(
        re.fullmatch(r"[0-9a-f]{40}", r["billing_event_id"]) for r in rich_files["billing-events"]
    )
    assert {c["channel"] for c in doc["contracts"]} == {
        "aws_marketplace",
        "reseller",
        "azure_marketplace",
        "gcp_marketplace",
        "direct",
    }


def test_hourly_usage_has_zeros_and_stops_at_the_month_end(small_scenario: ScenarioSummary) -> None:
    """DOMAIN.md: AWS recommends a record every hour, 0 when idle; months cut at 00:00 UTC."""
    rows = read_csv(small_scenario.out / "usage.csv")
    per_series: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    zeros = 0
    for r in rows:
        per_series[(r["account_key"], r["product_code"], r["dimension_key"])].append(
            r["usage_hour"]
        )
        zeros += r["quantity"] == "0"
    assert zeros > len(rows) // 20  # nights and weekends
    first, last = small_scenario.periods[0], small_scenario.periods[-1]
    for hours in per_series.values():
        assert len(hours) == len(set(hours))  # one row per hour
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00Z", h) for h in hours)
        assert first <= min(hours)[:7] and max(hours)[:7] <= last
    full = [
        h for h in per_series.values() if len(h) == 30 * 24 + 31 * 24
    ]  # Sep + Oct, whole months
    assert full and all(
        h[0] == "2026-09-01T00:00:00Z" and h[-1] == "2026-10-31T23:00:00Z" for h in full
    )


def test_listing_fee_rates_follow_the_schedule(rich_scenario: ScenarioSummary) -> None:
    """DOMAIN.md: public SaaS 3 %; private < $1M 3 %, $1M–10M 2 %, ≥ $10M 1.5 %; renewals 1.5 %; CPPO +0.5 %."""
    checked = 0
    for c in _doc(rich_scenario)["contracts"]:
        if c["channel"] not in ("aws_marketplace", "reseller") or c["currency"] != "USD":
            continue
        tcv = Decimal(c["total_contract_value"]) if "total_contract_value" in c else None
        expected = expected_listing_fee_rate(
            is_private_offer=c["is_private_offer"],
            total_contract_value=tcv,
            is_renewal=c["is_renewal"],
            is_cppo=c["channel"] == "reseller",
        )
        assert Decimal(c["listing_fee_rate"]) == expected, c["contract_key"]
        checked += 1
    assert checked > 10


def test_cash_lands_35_to_45_days_after_the_invoice(
    calm_scenario: ScenarioSummary, calm_files: dict[str, Any]
) -> None:
    """DOMAIN.md: "Cash typically lands 35–45 days after invoice at net-30"."""
    events = calm_files["billing-events"]
    by_id = {r["billing_event_id"]: r for r in events}
    lags = []
    for r in events:
        if r["action"] == "DISBURSED" and r["parent_billing_event_id"]:
            parent = by_id[r["parent_billing_event_id"]]
            assert Decimal(r["amount"]) == -Decimal(
                parent["amount"]
            )  # the offset mirrors its parent
            invoiced = date.fromisoformat(parent["invoice_date"])
            assert date.fromisoformat(parent["payment_due_date"]) == date.fromordinal(
                invoiced.toordinal() + 30
            )
            lags.append((date.fromisoformat(r["action_date"]) - invoiced).days)
    assert lags and min(lags) >= 35 and max(lags) <= 45


def test_sound_payouts_add_up_and_reach_the_bank(
    calm_scenario: ScenarioSummary, calm_files: dict[str, Any]
) -> None:
    """DOMAIN.md: a DISBURSED row points to its payout; the payout's bank_trace_id matches the bank."""
    faulted = _faulted_accounts(calm_scenario)
    aws_to_key = {
        a.get("aws_account_id"): a["account_key"] for a in _doc(calm_scenario)["accounts"]
    }
    children: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in calm_files["billing-events"]:
        if r["disbursement_billing_event_id"] and r["transaction_type"] not in (
            "DISBURSEMENT",
            "DISBURSEMENT_FAILURE",
        ):
            children[r["disbursement_billing_event_id"]].append(r)
    traces = {p["bank_trace_id"] for p in calm_files["payments"]}
    payouts = [r for r in calm_files["billing-events"] if r["transaction_type"] == "DISBURSEMENT"]
    sound = [
        p
        for p in payouts
        if aws_to_key[children[p["billing_event_id"]][0]["end_user_account_id"]] not in faulted
    ]
    assert len(sound) > 5
    for p in sound:
        assert Decimal(p["amount"]) == sum(
            Decimal(c["amount"]) for c in children[p["billing_event_id"]]
        )
        assert Decimal(p["amount"]) < 0 and p["bank_trace_id"] in traces


def test_foreign_currency_payouts_convert_at_the_days_rate(
    calm_scenario: ScenarioSummary, calm_files: dict[str, Any]
) -> None:
    """EUR/GBP/JPY offers are paid out in USD at the day's rate (fx-rates.csv) unless an FX fault says otherwise."""
    rates = {
        (r["rate_date"], r["currency"]): Decimal(r["usd_per_unit"])
        for r in read_csv(calm_scenario.out / "fx-rates.csv")
    }
    fx_faults = {
        t.account_key
        for t in read_truth(calm_scenario.out / "truth.jsonl")
        if t.category == "fx_variance"
    }
    converted = [
        p
        for p in calm_files["billing-events"]
        if p["transaction_type"] == "DISBURSEMENT" and p["disbursement_currency"]
    ]
    assert converted and {p["currency"] for p in converted} - {"USD"}
    ok = 0
    for p in converted:
        expected = quantize(Decimal(p["amount"]) * rates[(p["action_date"], p["currency"])], "USD")
        if Decimal(p["disbursement_amount"]) == expected:
            ok += 1
    assert ok >= len(converted) - len(fx_faults) and ok > 0


def test_tax_rows_follow_who_collects_the_tax(
    calm_scenario: ScenarioSummary, calm_files: dict[str, Any]
) -> None:
    """DOMAIN.md: AWS_TAX_SHARE is informational (not balance-impacting); SELLER_TAX_SHARE is."""
    rows = [
        r
        for r in calm_files["billing-events"]
        if r["action"] == "INVOICED" and "TAX" in r["transaction_type"]
    ]
    assert {r["transaction_type"] for r in rows} == {"AWS_TAX_SHARE", "SELLER_TAX_SHARE"}
    assert all(
        r["balance_impacting"] == ("0" if r["transaction_type"] == "AWS_TAX_SHARE" else "1")
        for r in rows
    )


def test_cppo_rows_are_resale_at_the_wholesale_price(
    rich_scenario: ScenarioSummary, rich_files: dict[str, Any]
) -> None:
    """DOMAIN.md: CPPO rows carry broker_id, invoice_variant RESALE and charge_variant/charge_side."""
    resale = [
        r
        for r in rich_files["billing-events"]
        if r["action"] == "INVOICED"
        and r["transaction_type"] == "SELLER_REV_SHARE"
        and r["broker_id"]
    ]
    assert resale and all(
        (r["invoice_variant"], r["charge_variant"], r["charge_side"])
        == ("RESALE", "RESALE", "BUYING")
        for r in resale
    )


def test_invoice_lines_add_up(calm_files: dict[str, Any]) -> None:
    """Format rule: amount = quantity × unit_price rounded to the currency's minor unit; header fields agree."""
    headers: dict[str, tuple[str, ...]] = {}
    for r in calm_files["invoices"]:
        assert Decimal(r["amount"]) == quantize(
            Decimal(r["quantity"]) * Decimal(r["unit_price"]), r["currency"]
        )
        head = tuple(
            r[k]
            for k in ("account_key", "contract_key", "channel", "period", "currency", "issue_date")
        )
        assert headers.setdefault(r["invoice_number"], head) == head


def test_metering_calls_hold_at_most_25_records(small_scenario: ScenarioSummary) -> None:
    """DOMAIN.md: BatchMeterUsage takes up to 25 UsageRecords; Status is Success, CustomerNotSubscribed or DuplicateRecord."""
    lines = (small_scenario.out / "metering.jsonl").read_text(encoding="utf-8").splitlines()
    statuses = set()
    for line in lines:
        call = json.loads(line)
        assert 0 < len(call["Results"]) + len(call["UnprocessedRecords"]) <= 25
        statuses |= {r["Status"] for r in call["Results"]}
        assert all(isinstance(r["UsageRecord"]["Quantity"], int) for r in call["Results"])
    assert "Success" in statuses and statuses <= {
        "Success",
        "CustomerNotSubscribed",
        "DuplicateRecord",
    }
