"""What a fault injector receives and returns, and the usual resolution of each category."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from billing.money import quantize
from billing.scenarios.calendar import last_day
from billing.scenarios.model import Contract
from billing.scenarios.world import World
from billing.taxonomy import Action, Category, EscalateTo

Stage = Literal["usage", "billing", "cash"]


@dataclass
class Target:
    """Where a fault goes: a contract in a month, with the fault's own random stream."""

    contract: Contract
    period: str
    rng: random.Random

    def effect(
        self,
        category: Category,
        rules: list[str],
        kinds: list[str],
        amount: Decimal,
        note: str,
        **more: Any,
    ) -> Effect:
        """What the fault did here: in this month, in the contract's currency, the amount at
        stake rounded to it (`more`: the other fields of `Effect`)."""
        currency = self.contract.currency
        at_stake = money(amount, currency)
        return Effect(category, self.period, rules, kinds, at_stake, currency, note, **more)


@dataclass
class Effect:
    """What an injector did, in the words of the ground truth (one truth line, plus counterparts).

    `account_key`/`product_code`/`channel` default to the target contract's; set `account_key=None`
    with `unknown_account=True` for money from an unidentified payer."""

    category: Category
    period: str
    rules: list[str]
    kinds: list[str]
    amount: Decimal
    currency: str
    note: str
    action: Action | None = None  # None: the category's usual action for the channel
    escalate_to: EscalateTo | None = None
    dimension_key: str | None = None
    benign: bool = False
    unknown_account: bool = False
    reference: str = ""  # the invoice a message about it would quote (default: AWS's invoice id)
    counterparts: list[Effect] = field(default_factory=list)  # the same fault seen in other months


Injector = Callable[[World, Target], Effect | None]
Eligibility = Callable[[World, Contract, str], bool]


@dataclass(frozen=True)
class FaultKind:
    """One way to break the data: its category, stage, who it can hit, and the injector."""

    name: str
    category: Category
    stage: Stage
    eligible: Eligibility
    inject: Injector


# DOMAIN.md's taxonomy table: the usual resolution and whom it goes to.
USUAL: dict[Category, tuple[Action, EscalateTo]] = {
    "dropped_metering": ("resend_metering", "internal"),
    "duplicate_metering": ("refund_request", "partner"),
    "rejected_metering": ("fix_metering_mapping", "internal"),
    "wrong_dimension": ("fix_metering_mapping", "internal"),
    "price_mismatch": ("request_partner_correction", "partner"),
    "entitlement_mismatch": ("rebill", "customer"),
    "listing_fee_mismatch": ("request_partner_correction", "partner"),
    "reseller_margin_mismatch": ("request_partner_correction", "partner"),
    "short_payment": ("chase_payment", "partner"),
    "forgiven_charge": ("write_off", "internal"),
    "disbursement_failure": ("request_partner_correction", "partner"),
    "missing_invoice": ("request_partner_correction", "partner"),
    "credit_misapplied": ("credit_note", "customer"),
    "refund_discrepancy": ("request_partner_correction", "partner"),
    "tax_discrepancy": ("investigate", "internal"),
    "fx_variance": ("book_fx_variance", "internal"),
    "timing_difference": ("no_action_timing", "none"),
    "channel_conflict": ("credit_note", "customer"),
    "other": ("investigate", "internal"),
}


def usual_resolution(category: Category, channel: str) -> tuple[Action, EscalateTo]:
    """(action, escalate_to) for a category; direct sales have no partner to ask."""
    if channel == "direct" and category == "short_payment":
        return "chase_payment", "customer"
    if channel == "direct" and category == "missing_invoice":
        return "rebill", "customer"  # the runbook: issue it and send it, the delay noted in the cover email
    return USUAL[category]


def usd(world: World, amount: Decimal, currency: str, period: str) -> Decimal:
    """An amount in USD at the rate of the period's last day (for materiality)."""
    return world.fx.to_usd(amount, currency, last_day(period))


def money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit; amounts at stake are never negative."""
    return abs(quantize(amount, currency))
