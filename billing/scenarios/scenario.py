"""`generate_scenario`: a deterministic, realistic scenario folder with its ground truth.

Stages run in the order money flows — contracts, hourly usage, our own invoices, faults on the
usage path, the partner's feeds and AWS's invoices, faults on invoicing, collection and payouts,
faults on cash — and every file of the folder is written at the end, all or nothing."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from billing.scenarios import writers as w
from billing.scenarios.calendar import add_months, first_day, parse_period, periods_from
from billing.scenarios.contracts import build_agreements, build_contract
from billing.scenarios.direct import build_ledger, ledger_payment, mirror_marketplace
from billing.scenarios.disbursement import disbursement_rows, plan_marketplace_cash
from billing.scenarios.faults.plan import FaultPlan, inject_stage, plan_faults
from billing.scenarios.fx import simulate_fx
from billing.scenarios.ground_truth import build_truth
from billing.scenarios.ids import IdMaker, sub_rng
from billing.scenarios.marketplace import (
    BILLING_EVENT_COLUMNS,
    build_marketplace_invoices,
    issue_events,
)
from billing.scenarios.messages import background_messages
from billing.scenarios.metering import metering_calls
from billing.scenarios.model import Timeline
from billing.scenarios.parties import build_accounts, build_products
from billing.scenarios.partner_usage import feed_rows, partner_daily
from billing.scenarios.truth_model import TruthEntry, write_truth
from billing.scenarios.usage import simulate_usage
from billing.scenarios.world import World

DEFAULT_FAULT_RATE = 0.5
GENERATOR_VERSION = "1"
FILES = (
    "contracts.yaml",
    "agreements.csv",
    "fx-rates.csv",
    "usage.csv",
    "metering.jsonl",
    "partner-usage.csv",
    "billing-events.csv",
    "invoices.csv",
    "credit-notes.csv",
    "refunds.csv",
    "payments.csv",
    "messages.jsonl",
    "truth.jsonl",
    "scenario.json",
)


class ScenarioParams(BaseModel):
    """What to generate; validated before anything is written."""

    model_config = ConfigDict(frozen=True)

    seed: int
    accounts: int = Field(ge=1, le=5000)
    months: int = Field(ge=1, le=36)
    start: str
    fault_rate: float = Field(default=DEFAULT_FAULT_RATE, ge=0, le=1)

    @field_validator("start")
    @classmethod
    def _is_period(cls, value: str) -> str:
        parse_period(value)
        return value


class ScenarioSummary(BaseModel):
    """What was written, for the CLI, the demo and the tests."""

    seed: int
    accounts: int
    months: int
    start: str
    periods: list[str]
    as_of: date  # pass to reconciliation as its run date: every payout due by then is in the files
    fault_rate: float
    out: Path
    rows: dict[str, int]
    faults: int
    truth_lines: int
    faults_by_category: dict[str, int]
    benign: int
    look_alikes: int
    two_causes: int
    messages: int
    suspicious_messages: int
    skipped: list[str]


def build_world(params: ScenarioParams) -> World:
    """Parties, products, contracts and agreements of a scenario, and its FX rates."""
    periods = periods_from(params.start, params.months)
    # The run date: the last month's invoices (issued on the 1st, due in up to 60 days, paid up to
    # 10 days late; AWS pays out 35–45 days after invoicing) are all settled by then.
    as_of = first_day(add_months(periods[-1], 4))
    ids = IdMaker(sub_rng(params.seed, "ids"))
    fx = simulate_fx(sub_rng(params.seed, "fx"), first_day(periods[0]) - timedelta(days=31), as_of)
    world = World(
        seed=params.seed,
        timeline=Timeline(periods),
        as_of=as_of,
        ids=ids,
        seller_account_id=ids.aws_account_id(),
        aws_billing_account_id=ids.aws_account_id(),
        fx=fx,
    )
    world.products = build_products(ids)
    rng = sub_rng(params.seed, "parties")
    shared: dict[str, str] = {}
    for index, (account, channel) in enumerate(build_accounts(params.accounts, rng, ids)):
        world.accounts.append(account)
        if account.meters_by_account_id:
            account.license_arn = ids.license_arn(world.seller_account_id)
        several = not channel.endswith("marketplace") and rng.random() < 0.2
        for product in rng.sample(world.products, 2 if several else 1):
            world.contracts.append(
                build_contract(
                    index=index,
                    account=account,
                    product=product,
                    channel=channel,
                    rng=rng,
                    ids=ids,
                    periods=periods,
                    shared_ids=shared,
                )
            )
    world.agreements = build_agreements(world.contracts, world.seller_account_id, rng, ids)
    return world


def simulate(params: ScenarioParams) -> tuple[World, FaultPlan, list[TruthEntry]]:
    """Run every stage in memory; nothing is written."""
    world = build_world(params)
    simulate_usage(world)
    build_ledger(world)
    plan = plan_faults(world, params.fault_rate, sub_rng(params.seed, "plan"))
    inject_stage(world, plan, "usage")
    world.daily = partner_daily(world)  # usage faults are in: the partner's days are final
    build_marketplace_invoices(world, world.daily)
    issue_events(world)
    inject_stage(world, plan, "billing")
    mirror_marketplace(world)
    plan_marketplace_cash(world)
    inject_stage(world, plan, "cash")
    truth = build_truth(world, plan, sub_rng(params.seed, "messages"))
    background_messages(world, sub_rng(params.seed, "background"), max(2, params.accounts // 8))
    return world, plan, truth


def _events_and_receipts(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    receipts: list[dict[str, Any]] = []
    for inv in world.marketplace_invoices:
        events.extend(inv.events)
        rows, receipt = disbursement_rows(world, inv)
        events.extend(rows)
        if receipt:
            receipts.append(receipt)
    events.sort(key=lambda r: r["update_date"])  # stable: invoice order within a day
    return events, receipts


def write_folder(
    folder: Path, world: World, truth: list[TruthEntry], params: ScenarioParams, plan: FaultPlan
) -> dict[str, int]:
    """Write every file of the scenario into `folder`; returns rows per file."""
    rows: dict[str, int] = {}
    rows["contracts.yaml"] = w.write_contracts(folder / "contracts.yaml", world)
    rows["agreements.csv"] = w.write_agreements(folder / "agreements.csv", world)
    rows["fx-rates.csv"] = w.write_fx(folder / "fx-rates.csv", world)
    rows["usage.csv"] = w.write_csv(folder / "usage.csv", w.USAGE_COLUMNS, w.usage_rows(world))
    rows["metering.jsonl"] = w.write_jsonl(folder / "metering.jsonl", metering_calls(world))
    rows["partner-usage.csv"] = w.write_csv(
        folder / "partner-usage.csv",
        w.PARTNER_USAGE_COLUMNS,
        feed_rows(world, world.daily),
    )
    events, receipts = _events_and_receipts(world)
    rows["billing-events.csv"] = w.write_csv(
        folder / "billing-events.csv", BILLING_EVENT_COLUMNS, events
    )
    rows["invoices.csv"] = w.write_csv(
        folder / "invoices.csv", w.INVOICE_COLUMNS, w.invoice_rows(world)
    )
    rows["credit-notes.csv"] = w.write_csv(
        folder / "credit-notes.csv",
        w.CREDIT_NOTE_COLUMNS,
        w.numbered(world.credit_notes, "credit_note_number", "CN-", "issue_date"),
    )
    rows["refunds.csv"] = w.write_csv(
        folder / "refunds.csv",
        w.REFUND_COLUMNS,
        w.numbered(world.refunds, "request_id", "RR-", "requested_date"),
    )
    ledger_payments = [
        p for p in (ledger_payment(world, i) for i in world.ledger if not i.partner_invoice_id) if p
    ]
    payments = w.numbered(
        ledger_payments + receipts + world.extra_payments, "payment_id", "PAY-", "received_date"
    )
    rows["payments.csv"] = w.write_csv(folder / "payments.csv", w.PAYMENT_COLUMNS, payments)
    messages = sorted(world.messages, key=lambda m: (m["received_at"], m["message_id"]))
    rows["messages.jsonl"] = w.write_jsonl(folder / "messages.jsonl", messages)
    rows["truth.jsonl"] = write_truth(folder / "truth.jsonl", truth)
    meta = {
        "generator_version": GENERATOR_VERSION,
        "seed": params.seed,
        "accounts": params.accounts,
        "months": params.months,
        "start": params.start,
        "periods": world.timeline.periods,
        "as_of": world.as_of.isoformat(),
        "fault_rate": params.fault_rate,
        "files": rows,
        "skipped_faults": plan.skipped,
    }
    (folder / "scenario.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return rows


def generate_scenario(
    seed: int,
    accounts: int,
    months: int,
    start: str,
    out: str | Path,
    *,
    fault_rate: float = DEFAULT_FAULT_RATE,
) -> ScenarioSummary:
    """Generate a scenario folder at `out` (created if missing; our files in it are replaced).

    Same arguments → byte-identical files. The files are written to a temporary folder first and
    moved into `out` only when all of them are complete, so a failure leaves `out` as it was."""
    params = ScenarioParams(
        seed=seed, accounts=accounts, months=months, start=start, fault_rate=fault_rate
    )
    world, plan, truth = simulate(params)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".generating-") as tmp:
        rows = write_folder(Path(tmp), world, truth, params, plan)
        for name in FILES:
            shutil.move(str(Path(tmp) / name), str(target / name))
    primary = [t for t in truth if "." not in t.fault_id]
    by_category: dict[str, int] = {}
    for entry in primary:
        by_category[entry.category] = by_category.get(entry.category, 0) + 1
    injected = [
        m
        for m in world.messages
        if any(m["message_id"] in t.message_ids and "instruct" in t.note for t in primary)
    ]
    return ScenarioSummary(
        seed=seed,
        accounts=accounts,
        months=months,
        start=start,
        periods=world.timeline.periods,
        as_of=world.as_of,
        fault_rate=fault_rate,
        out=target,
        rows=rows,
        faults=len(primary),
        truth_lines=len(truth),
        faults_by_category=dict(sorted(by_category.items())),
        benign=sum(t.benign for t in primary),
        look_alikes=sum(t.look_alike_of is not None for t in primary),
        two_causes=sum(t.second_category is not None for t in primary),
        messages=len(world.messages),
        suspicious_messages=len(injected),
        skipped=plan.skipped,
    )
