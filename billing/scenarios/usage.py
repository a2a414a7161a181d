"""Hourly usage as our metering pipeline records it: office-hours curves in the customer's time
zone, quiet nights and weekends (zeros for idle customers), nightly batch jobs, noise, growth."""

from __future__ import annotations

import random
from array import array
from datetime import timedelta

from billing.scenarios.catalog import DimensionTemplate
from billing.scenarios.ids import sub_rng
from billing.scenarios.model import Account, Contract, zeros
from billing.scenarios.world import World

_BUSINESS_DAY = (
    0.15,
    0.1,
    0.1,
    0.1,
    0.1,
    0.15,
    0.3,
    0.6,
    1.2,
    1.7,
    1.8,
    1.8,
    1.6,
    1.8,
    1.8,
    1.7,
    1.5,
    1.2,
    0.8,
    0.6,
    0.5,
    0.4,
    0.3,
    0.2,
)


def shape(pattern: str, local_hour: int, weekday: int, night_idle: bool) -> float:
    """Relative intensity of a dimension at a local hour and weekday (Mon=0); mean about 1."""
    weekend = weekday >= 5
    if pattern == "batch":  # nightly jobs between 01:00 and 05:59 local time, nothing otherwise
        return 4.5 if 1 <= local_hour <= 5 and not (weekend and night_idle) else 0.0
    if pattern == "flat":  # always-on capacity, scaled down overnight by careful customers
        return 0.55 if night_idle and (local_hour < 7 or weekend) else 1.0
    if night_idle and (local_hour < 7 or local_hour >= 21 or weekend):
        return 0.0
    return _BUSINESS_DAY[local_hour] * (0.3 if weekend else 1.0)


def _factor_table(dim: DimensionTemplate, account: Account) -> list[list[float]]:
    return [[shape(dim.pattern, h, wd, account.night_idle) for h in range(24)] for wd in range(7)]


def simulate_dimension(
    world: World, contract: Contract, dim: DimensionTemplate, rng: random.Random
) -> array[int]:
    """Integer quantities per hour (metering quantities are whole numbers), 0 outside the contract."""
    timeline = world.timeline
    out = zeros(timeline.n_hours)
    table = _factor_table(dim, contract.account)
    scale = dim.hourly_scale * contract.account.size
    growth = rng.uniform(-0.03, 0.08)
    offset = timedelta(hours=contract.account.country.utc_offset)
    for month_index, period in enumerate(timeline.periods):
        level = scale * (1 + growth * month_index)
        for hour in timeline.hour_range(period):
            moment = timeline.moment(hour)
            if not contract.active_on(moment.date()):
                continue
            local = moment + offset
            factor = table[local.weekday()][local.hour]
            if factor:
                out[hour] = int(level * factor * (0.75 + 0.5 * rng.random()) + 0.5)
    return out


def simulate_usage(world: World) -> None:
    """Fill `world.usage` for every contract, and the partner's identical view for AWS contracts."""
    for contract in world.contracts:
        if not any(contract.active_in(p) for p in world.timeline.periods):
            continue
        rng = sub_rng(world.seed, "usage", contract.contract_key)
        for dim in contract.product.dimensions:
            key = (contract.contract_key, dim.key)
            world.usage[key] = simulate_dimension(world, contract, dim, rng)
            if contract.is_aws:
                world.partner[key] = array("q", world.usage[key])
