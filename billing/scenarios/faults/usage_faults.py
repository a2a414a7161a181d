"""Faults on the usage path, one function per category: what we metered vs what AWS accepted
and counted (dropped, duplicated, rejected, mis-dimensioned, late, mis-priced, unentitled)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from billing.scenarios.calendar import add_months, first_day, iso_hour, period_start
from billing.scenarios.faults.base import Effect, Target, money, usd
from billing.scenarios.model import Contract, ExtraMeterRecord, MeterOverride
from billing.scenarios.world import World
from billing.taxonomy import Action

EDGE_HOURS = 6  # keep ordinary faults away from the month boundary, where timing differences live


def period_usage(world: World, c: Contract, dimension: str, period: str) -> int:
    hours = world.usage.get((c.contract_key, dimension))
    if hours is None:
        return 0
    r = world.timeline.hour_range(period)
    return sum(hours[r.start : r.stop])


def used_dimensions(world: World, c: Contract, period: str) -> list[str]:
    """Dimensions of the contract with usage in the month."""
    return [d.key for d in c.product.dimensions if period_usage(world, c, d.key, period) > 0]


def pick_run(
    world: World, c: Contract, dimensions: list[str], period: str, rng: random.Random, length: int
) -> list[int] | None:
    """A run of `length` consecutive hours inside the month (away from its edges) with usage > 0."""
    r = world.timeline.hour_range(period)
    lo, hi = r.start + EDGE_HOURS, r.stop - EDGE_HOURS - length
    candidates = [
        h
        for h in range(lo, max(lo, hi))
        if c.active_on(world.timeline.day_of(h)) and c.active_on(world.timeline.day_of(h + length))
    ]
    rng.shuffle(candidates)
    for start in candidates[:200]:
        run = list(range(start, start + length))
        if sum(world.usage[(c.contract_key, d)][h] for d in dimensions for h in run) > 0:
            return run
    return None


def pick_dimension_run(
    world: World, t: Target, shortest: int, longest: int
) -> tuple[str, list[int]] | None:
    """One dimension with usage in the month and a run of `shortest`..`longest` of its hours
    with usage (drawn from the target's random stream in that order), or None."""
    dims = used_dimensions(world, t.contract, t.period)
    if not dims:
        return None
    dim = t.rng.choice(dims)
    run = pick_run(world, t.contract, [dim], t.period, t.rng, t.rng.randint(shortest, longest))
    return None if run is None else (dim, run)


def run_text(world: World, run: list[int]) -> str:
    return f"{iso_hour(world.timeline.moment(run[0]))} to {iso_hour(world.timeline.moment(run[-1] + 1))}"


def inject_dropped_metering(world: World, t: Target) -> Effect | None:
    """Records our pipeline never delivered (an outage) or AWS left unprocessed and nobody retried."""
    c, rng = t.contract, t.rng
    picked = pick_dimension_run(world, t, 3, 16)
    if picked is None:
        return None
    dim, run = picked
    unprocessed = rng.random() < 0.35
    key = (c.contract_key, dim)
    quantity = sum(world.usage[key][h] for h in run)
    for h in run:
        world.meter_overrides[(c.contract_key, dim, h)] = MeterOverride(
            "Unprocessed" if unprocessed else "Omitted"
        )
        world.partner[key][h] = 0
    amount = money(Decimal(quantity) * c.rates[dim], c.currency)
    # Found at month-end, the hours are far past AWS's 6-hour window: they cannot be resent.
    action: Action = "write_off" if usd(world, amount, c.currency, t.period) < 250 else "rebill"
    how = (
        "came back in UnprocessedRecords and were never retried"
        if unprocessed
        else "were never sent: the metering job failed"
    )
    return t.effect(
        "dropped_metering",
        ["usage_vs_partner_usage", "metering_gaps"]
        + (["metering_not_accepted"] if unprocessed else []),
        ["usage_shortfall", "metering_missing_hours"]
        + (["metering_unprocessed"] if unprocessed else []),
        amount,
        f"{len(run)} hourly records of {dim} ({quantity} units, {run_text(world, run)}) {how}; "
        f"older than the 6 h metering window, so {action.replace('_', ' ')} instead of resending.",
        action=action,
        dimension_key=dim,
    )


def inject_duplicate_metering(world: World, t: Target) -> Effect | None:
    """A retry job re-sent hours AWS then billed twice; its later retries came back DuplicateRecord."""
    c = t.contract
    picked = pick_dimension_run(world, t, 2, 8)
    if picked is None:
        return None
    dim, run = picked
    key = (c.contract_key, dim)
    quantity = 0
    for h in run:
        q = world.usage[key][h]
        world.partner[key][h] += q
        quantity += q
        if q:
            world.extra_meter.append(ExtraMeterRecord(c.contract_key, dim, h, q, "DuplicateRecord"))
    rate = world.billed_rate(c, dim, t.period)
    amount = money(Decimal(quantity) * rate, c.currency)
    return t.effect(
        "duplicate_metering",
        ["usage_vs_partner_usage", "metering_not_accepted"],
        ["usage_excess", "metering_duplicate_record"],
        amount,
        f"{dim}: {quantity} units of {run_text(world, run)} were billed twice by AWS after a retry storm; "
        "the customer was overcharged and is owed a refund.",
        dimension_key=dim,
    )


def inject_rejected_metering(world: World, t: Target) -> Effect | None:
    """AWS answered CustomerNotSubscribed for a run of hours: a stale customer mapping after the
    buyer moved to a replacement agreement, or a customer AWS no longer counts as subscribed.

    The two leave different evidence, as the rejected metering runbook reads it (decision step
    1): a replacement shows in the agreement feed (the contract's agreement SUPERSEDED from the
    first refused hour by a REPLACE agreement the buyer accepted), so our mapping is stale and
    metering engineering fixes it; with the agreement unchanged and in force, the customer is
    asked to re-subscribe and the held usage is resent."""
    c, rng = t.contract, t.rng
    dims = used_dimensions(world, c, t.period)
    if not dims:
        return None
    run = pick_run(world, c, dims, t.period, rng, rng.randint(6, 20))
    if run is None:
        return None
    customer_side = rng.random() < 0.4
    replaced = None if customer_side else _replace_agreement(world, c, world.timeline.moment(run[0]))
    if not customer_side and replaced is None:
        return None
    amount = Decimal(0)
    for dim in (d.key for d in c.product.dimensions):
        key = (c.contract_key, dim)
        for h in run:
            world.meter_overrides[(c.contract_key, dim, h)] = MeterOverride("CustomerNotSubscribed")
            amount += Decimal(world.usage[key][h]) * c.rates[dim]
            world.partner[key][h] = 0
    why = (
        "the agreement is in force, but AWS no longer counts the customer as subscribed; they must "
        "re-subscribe before the held usage can be resent"
        if customer_side
        else f"the buyer accepted replacement agreement {replaced}, and our customer mapping kept "
        "metering against the old agreement"
    )
    return t.effect(
        "rejected_metering",
        ["metering_not_accepted", "usage_vs_partner_usage", "metering_gaps"],
        ["metering_customer_not_subscribed", "usage_shortfall", "metering_missing_hours"],
        amount,
        f"{len(run)} hours ({run_text(world, run)}) rejected as CustomerNotSubscribed: {why}.",
        action="resend_metering" if customer_side else "fix_metering_mapping",
        escalate_to="customer" if customer_side else "internal",
    )


def _replace_agreement(world: World, c: Contract, at: datetime) -> str | None:
    """The contract's agreement SUPERSEDED at `at` by a REPLACE agreement the buyer accepted (our
    contract still names the old one); the new agreement's id, or None when the contract's
    agreement is not in the feed or not ACTIVE."""
    old = next((a for a in world.agreements if a.agreement_id == c.agreement_id), None)
    if old is None or old.status != "ACTIVE":
        return None
    new = replace(old, agreement_id=world.ids.agreement_id(), start_time=at,
                  acceptance_time=at - timedelta(minutes=20), intent="REPLACE",
                  preceding_agreement_id=old.agreement_id)
    old.status, old.end_time = "SUPERSEDED", at
    world.agreements.append(new)
    return new.agreement_id


def inject_wrong_dimension(world: World, t: Target, *, cheap_target: bool = False) -> Effect | None:
    """A mapping bug sent one dimension's usage under another: totals agree, the mix does not."""
    c, rng = t.contract, t.rng
    dims = used_dimensions(world, c, t.period)
    if not dims or len(c.product.dimensions) < 2:
        return None
    source = rng.choice(dims)
    others = [d.key for d in c.product.dimensions if d.key != source]
    if cheap_target:
        others.sort(key=lambda k: c.rates[k])
        target = others[0]
    else:
        target = rng.choice(others)
    run = pick_run(world, c, [source], t.period, rng, rng.randint(18, 96))
    if run is None:
        return None
    src, dst = (c.contract_key, source), (c.contract_key, target)
    moved = 0
    for h in run:
        q = world.usage[src][h]
        moved += q
        world.partner[src][h] -= q
        world.partner[dst][h] += q
        world.meter_overrides[(c.contract_key, source, h)] = MeterOverride("Omitted")
        world.meter_quantity[(c.contract_key, target, h)] = world.usage[dst][h] + q
    amount = money(Decimal(moved) * c.rates[source], c.currency)
    return t.effect(
        "wrong_dimension",
        ["usage_vs_partner_usage", "metering_gaps"],
        ["usage_shortfall", "usage_excess", "metering_missing_hours"],
        amount,
        f"{moved} units of {source} were metered as {target} ({run_text(world, run)}) after a release changed "
        f"the dimension mapping; the account's total units agree, the mix does not.",
    )


def inject_timing_difference(world: World, t: Target) -> Effect | None:
    """Benign: the last hours of the month land in the partner's next month; they net out there."""
    c, rng = t.contract, t.rng
    r = world.timeline.hour_range(t.period)
    k = rng.randint(1, 3)
    run = list(range(r.stop - k, r.stop))
    next_day = first_day(add_months(t.period, 1))
    amount = Decimal(0)
    quantity = 0
    for d in c.product.dimensions:
        key = (c.contract_key, d.key)
        shifts = world.partner_shift.setdefault(key, {})
        for h in run:
            if world.partner[key][h]:
                shifts[h] = next_day
                quantity += world.partner[key][h]
                amount += Decimal(world.partner[key][h]) * world.billed_rate(c, d.key, t.period)
    if not quantity:
        return None
    amount = money(amount, c.currency)
    following = world.timeline.next_period(t.period)
    effect = t.effect(
        "timing_difference",
        ["usage_vs_partner_usage"],
        ["usage_shortfall"],
        amount,
        f"The last {k} hour(s) of {t.period} ({quantity} units, before 00:00 UTC) appear in the partner's "
        f"feed on {next_day}; the difference nets out in the next period.",
        benign=True,
    )
    if following:
        effect.counterparts.append(
            Effect(
                "timing_difference",
                following,
                ["usage_vs_partner_usage"],
                ["usage_excess"],
                amount,
                c.currency,
                f"Counterpart of the {t.period} timing difference: {quantity} units of the last hour(s) of "
                f"{t.period} counted by the partner on {next_day}.",
                benign=True,
            )
        )
    return effect


def inject_price_mismatch(world: World, t: Target) -> Effect | None:
    """AWS billed a rate other than the private offer's: the public price, or last year's price."""
    c, rng = t.contract, t.rng
    dims = used_dimensions(world, c, t.period)
    if not dims:
        return None
    dim = rng.choice(dims)
    contracted = c.rates[dim]
    public = c.product.dimension(dim).list_price
    if c.currency == "USD" and public != contracted and rng.random() < 0.6:
        billed, why = (
            public,
            "the buyer was billed on the public offer instead of its private offer",
        )
    else:
        billed = (contracted * Decimal(repr(round(rng.uniform(1.05, 1.12), 3)))).quantize(
            Decimal("0.000001")
        )
        why = "the private offer's previous-year price was billed after the price step"
    world.billed_rates[(c.contract_key, dim, t.period)] = billed
    r = world.timeline.hour_range(t.period)
    quantity = sum(world.partner[(c.contract_key, dim)][r.start : r.stop])
    amount = money(Decimal(quantity) * (billed - contracted), c.currency)
    return t.effect(
        "price_mismatch",
        ["billed_rate_vs_contract"],
        ["rate_mismatch"],
        amount,
        f"{dim} billed at {billed} {c.currency}/unit instead of the contracted {contracted}: {why}.",
        dimension_key=dim,
    )


def inject_entitlement_mismatch(world: World, t: Target) -> Effect | None:
    """The agreement ended mid-month (cancelled or expired) but we kept serving and metering."""
    c, rng = t.contract, t.rng
    agreement = next((a for a in world.agreements if a.agreement_id == c.agreement_id), None)
    if agreement is None:
        return None
    cancelled = rng.random() < 0.6
    ended = period_start(t.period) + timedelta(days=rng.randint(8, 20), hours=rng.randint(0, 23))
    agreement.status = "CANCELLED" if cancelled else "EXPIRED"
    agreement.end_time = ended
    first_hour = world.timeline.hour_of(ended)
    per_period: dict[str, Decimal] = {}
    for d in c.product.dimensions:
        key = (c.contract_key, d.key)
        for h in range(first_hour, world.timeline.n_hours):
            if not c.active_on(world.timeline.day_of(h)):
                continue
            world.meter_overrides[(c.contract_key, d.key, h)] = MeterOverride(
                "CustomerNotSubscribed"
            )
            world.partner[key][h] = 0
            p = f"{world.timeline.moment(h):%Y-%m}"
            per_period[p] = (
                per_period.get(p, Decimal(0)) + Decimal(world.usage[key][h]) * c.rates[d.key]
            )
    if not per_period.get(t.period):
        return None
    what = "cancelled by the customer" if cancelled else "expired without the renewal being signed"
    rules = [
        "usage_without_agreement",
        "metering_not_accepted",
        "usage_vs_partner_usage",
        "metering_gaps",
    ]
    kinds = [
        "usage_without_active_agreement",
        "metering_customer_not_subscribed",
        "usage_shortfall",
        "metering_missing_hours",
    ]
    effect = t.effect(
        "entitlement_mismatch",
        rules,
        kinds,
        per_period[t.period],
        f"Agreement {c.agreement_id} was {what} on {iso_hour(ended)}, but the service kept running and "
        "metering; AWS rejects the usage, so it must be billed to the customer another way.",
    )
    for p, value in per_period.items():
        if p != t.period and value:
            effect.counterparts.append(
                Effect(
                    "entitlement_mismatch",
                    p,
                    rules + ["usage_without_invoice"],
                    kinds + ["not_invoiced"],
                    money(value, c.currency),
                    c.currency,
                    f"Continuation: usage under agreement {c.agreement_id}, {what} on {iso_hour(ended)}.",
                )
            )
    return effect
