"""Products with their identifiers, and customer accounts spread across channels and countries."""

from __future__ import annotations

import random

from billing.scenarios.catalog import COUNTRIES, NAME_STEMS, PRODUCTS, SECTORS, Country
from billing.scenarios.ids import IdMaker
from billing.scenarios.model import Account, Product

# Share of customers per sales channel; "aws_marketplace:public" / ":private" split AWS offers.
CHANNEL_MIX: tuple[tuple[str, float], ...] = (
    ("aws_marketplace:private", 0.28),
    ("direct", 0.25),
    ("aws_marketplace:public", 0.20),
    ("reseller", 0.15),
    ("azure_marketplace", 0.06),
    ("gcp_marketplace", 0.06),
)
# (share, low, high) multipliers of a dimension's hourly scale: small to enterprise customers.
SIZES: tuple[tuple[float, float, float], ...] = (
    (0.35, 0.15, 0.5),
    (0.40, 0.6, 2.5),
    (0.20, 3.0, 10.0),
    (0.05, 15.0, 45.0),
)
_COUNTRY_WEIGHTS = (
    20,
    14,
    10,
    10,
    6,
    5,
    12,
    8,
)  # per COUNTRIES entry: US-heavy, a fair European share


def build_products(ids: IdMaker) -> list[Product]:
    """The seller's listings, each with its Marketplace product code and product id."""
    return [
        Product(ids.product_code(), ids.marketplace_product_id(), t.title, t.slug, t.dimensions)
        for t in PRODUCTS
    ]


def allocate_channels(n: int, rng: random.Random) -> list[str]:
    """Channels for `n` customers by CHANNEL_MIX (largest remainder; every channel once when n ≥ 6)."""
    raw = [(name, share * n) for name, share in CHANNEL_MIX]
    counts = {name: int(x) for name, x in raw}
    if n >= len(CHANNEL_MIX):
        counts = {name: max(count, 1) for name, count in counts.items()}
    by_remainder = sorted(raw, key=lambda item: item[1] - int(item[1]), reverse=True)
    i = 0
    while sum(counts.values()) < n:
        counts[by_remainder[i % len(by_remainder)][0]] += 1
        i += 1
    while sum(counts.values()) > n:  # only possible for tiny n after the "every channel" floor
        largest = max(counts, key=lambda k: counts[k])
        counts[largest] -= 1
    channels = [name for name, _ in CHANNEL_MIX for _ in range(counts[name])]
    rng.shuffle(channels)
    return channels


def _size(rng: random.Random) -> float:
    pick = rng.random()
    for share, low, high in SIZES:
        if pick < share:
            return round(rng.uniform(low, high), 3)
        pick -= share
    return round(rng.uniform(SIZES[-1][1], SIZES[-1][2]), 3)


def _name(index: int, rng: random.Random, stems: list[str]) -> tuple[str, str]:
    stem = stems[index % len(stems)]
    sector = SECTORS[(index // len(stems) + rng.randrange(len(SECTORS))) % len(SECTORS)]
    return stem, f"{stem} {sector}"


def build_account(
    index: int,
    channel: str,
    rng: random.Random,
    ids: IdMaker,
    stems: list[str],
    country: Country | None = None,
) -> Account:
    """One customer with the partner-side ids its channel needs."""
    stem, base_name = _name(index, rng, stems)
    country = country or rng.choices(COUNTRIES, weights=_COUNTRY_WEIGHTS)[0]
    account = Account(
        account_key=f"{stem.upper()}-{index + 1:04d}",
        name=f"{base_name} {country.legal_suffix}",
        country=country,
        size=_size(rng),
        night_idle=rng.random() < 0.35,
        contact_domain=f"{stem.lower()}{index + 1}.example",
    )
    if channel.startswith("aws_marketplace") or channel == "reseller":
        account.aws_account_id = ids.aws_account_id()
        account.aws_customer_identifier = ids.customer_identifier()
        account.meters_by_account_id = rng.random() < 0.3
    elif channel == "azure_marketplace":
        h = f"{rng.getrandbits(128):032x}"
        account.azure_subscription_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    elif channel == "gcp_marketplace":
        h = f"{rng.getrandbits(72):018X}"
        account.gcp_billing_account_id = f"{h[:6]}-{h[6:12]}-{h[12:]}"
    return account


def build_accounts(n: int, rng: random.Random, ids: IdMaker) -> list[tuple[Account, str]]:
    """`n` customers, each with the channel it buys through."""
    stems = list(NAME_STEMS)
    rng.shuffle(stems)
    channels = allocate_channels(n, rng)
    # FX needs local-currency private offers: the first two AWS private buyers are European or Japanese.
    foreign = [c for c in COUNTRIES if c.currency != "USD"]
    out: list[tuple[Account, str]] = []
    private_seen = 0
    for index, channel in enumerate(channels):
        country = None
        if channel == "aws_marketplace:private" and private_seen < 2:
            country = foreign[(private_seen * 3 + rng.randrange(2)) % len(foreign)]
            private_seen += 1
        out.append((build_account(index, channel, rng, ids, stems, country), channel))
    return out
