"""Which faults go where: a count from the fault rate, every scheme placed once before any
repeats, each on an eligible contract × month not already taken, then injected stage by stage."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from billing.scenarios.faults.base import Effect, Stage, Target
from billing.scenarios.faults.kinds import KINDS, SCHEMES, Scheme
from billing.scenarios.ids import sub_rng
from billing.scenarios.world import World

# Faults whose effects reach beyond their month hold the contract for the months they touch.
_HOLDS_ALL_MONTHS = ("entitlement_mismatch", "channel_conflict")
_HOLDS_NEXT_MONTH = ("timing_difference",)


@dataclass
class PlannedFault:
    """A scheme placed on a target; `effects` fills in as its parts are injected."""

    fault_id: str
    scheme: Scheme
    target: Target
    effects: dict[str, Effect | None] = field(default_factory=dict)


@dataclass
class FaultPlan:
    faults: list[PlannedFault]
    skipped: list[str]  # schemes no contract could take (e.g. no CPPO customer in a tiny scenario)


def plan_faults(
    world: World, fault_rate: float, rng: random.Random, schemes: tuple[Scheme, ...] = SCHEMES
) -> FaultPlan:
    """Place round(fault_rate × contract-months) faults; deterministic for a seed."""
    slots = [(c, p) for p in world.timeline.periods for c in world.active_contracts(p)]
    total = round(fault_rate * len(slots))
    order = list(schemes)
    rng.shuffle(order)
    sequence = order[:total]
    # Scarce schemes first (FX needs a foreign-currency offer, CPPO a reseller...), so a common
    # scheme does not take the only contract a rare one could use.
    room = {s.name: sum(s.eligible(world, c, p) for c, p in slots) for s in sequence}
    sequence.sort(key=lambda s: room[s.name])
    weights = [s.weight for s in schemes]
    while len(sequence) < total:
        sequence.append(rng.choices(schemes, weights=weights)[0])
    taken: set[tuple[str, str]] = set()
    planned: list[PlannedFault] = []
    skipped: list[str] = []
    for scheme in sequence:
        candidates = [
            (c, p)
            for c, p in slots
            if not taken & _held(world, scheme, c.contract_key, p) and scheme.eligible(world, c, p)
        ]
        if not candidates:
            skipped.append(scheme.name)
            continue
        contract, period = rng.choice(candidates)
        fault_id = f"F{len(planned) + 1:04d}"
        taken |= _held(world, scheme, contract.contract_key, period)
        planned.append(
            PlannedFault(
                fault_id, scheme, Target(contract, period, sub_rng(world.seed, "fault", fault_id))
            )
        )
    return FaultPlan(planned, skipped)


def _held(world: World, scheme: Scheme, contract_key: str, period: str) -> set[tuple[str, str]]:
    """The contract-months a scheme on (contract, period) touches; they must all be free."""
    held = {(contract_key, period)}
    categories = {KINDS[p].category for p in scheme.parts}
    if categories & set(_HOLDS_ALL_MONTHS):
        held |= {(contract_key, q) for q in world.timeline.periods}
    if categories & set(_HOLDS_NEXT_MONTH) and (following := world.timeline.next_period(period)):
        held.add((contract_key, following))
    return held


def inject_stage(world: World, plan: FaultPlan, stage: Stage) -> None:
    """Run every planned part that belongs to `stage`, in plan order."""
    for fault in plan.faults:
        for part in fault.scheme.parts:
            kind = KINDS[part]
            if kind.stage == stage:
                fault.effects[part] = kind.inject(world, fault.target)
