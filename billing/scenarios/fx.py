"""Daily exchange rates to USD: a seeded random walk around realistic levels."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from billing.money import quantize

# USD per unit, roughly where these currencies traded in the mid 2020s.
BASE_USD_PER_UNIT: dict[str, Decimal] = {
    "EUR": Decimal("1.0850"),
    "GBP": Decimal("1.2700"),
    "JPY": Decimal("0.006700"),
    "AUD": Decimal("0.6600"),
}
_PLACES = Decimal("0.00000001")


@dataclass
class FxTable:
    """USD per unit of each currency on each day; USD itself is 1 by definition."""

    rates: dict[tuple[date, str], Decimal] = field(default_factory=dict)

    def usd_per_unit(self, currency: str, day: date) -> Decimal:
        if currency == "USD":
            return Decimal(1)
        return self.rates[(day, currency)]

    def to_usd(self, amount: Decimal, currency: str, day: date) -> Decimal:
        """`amount` in USD at the day's rate, rounded to the cent."""
        return quantize(amount * self.usd_per_unit(currency, day), "USD")

    def rows(self) -> list[tuple[date, str, Decimal]]:
        return [(d, c, r) for (d, c), r in self.rates.items()]


def simulate_fx(rng: random.Random, first: date, last: date) -> FxTable:
    """A daily walk (±0.35 % a day, mean-reverting) from `first` to `last` inclusive."""
    table = FxTable()
    for currency, base in BASE_USD_PER_UNIT.items():
        level = 1.0
        day = first
        while day <= last:
            level += rng.uniform(-0.0035, 0.0035) - (level - 1.0) * 0.05
            rate = (base * Decimal(repr(round(level, 6)))).quantize(_PLACES, rounding=ROUND_HALF_UP)
            table.rates[(day, currency)] = rate
            day += timedelta(days=1)
    return table
