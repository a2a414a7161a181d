"""What the seller sells and to whom: products and pricing dimensions, customer names, countries,
resellers. Static facts; identifiers are drawn per scenario by `IdMaker`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Pattern = Literal["business", "flat", "batch"]


@dataclass(frozen=True)
class DimensionTemplate:
    """A pricing dimension: public list price per unit (USD) and how its hourly usage behaves."""

    key: str
    unit: str
    description: str
    list_price: Decimal
    hourly_scale: float  # a medium customer's average units per hour
    pattern: Pattern  # business: office hours; flat: always on; batch: nightly jobs


@dataclass(frozen=True)
class ProductTemplate:
    """A SaaS listing with several metered dimensions."""

    slug: str
    title: str
    dimensions: tuple[DimensionTemplate, ...]


def _d(
    key: str, unit: str, description: str, price: str, scale: float, pattern: Pattern
) -> DimensionTemplate:
    return DimensionTemplate(key, unit, description, Decimal(price), scale, pattern)


PRODUCTS: tuple[ProductTemplate, ...] = (
    ProductTemplate(
        "streamline",
        "Streamline Observability Cloud",
        (
            _d("ingested_gb", "GB", "Log and trace data ingested", "0.1000", 40, "business"),
            _d("monitored_hosts", "Hrs", "Host-hours under monitoring", "0.0150", 120, "flat"),
            _d(
                "api_requests_k",
                "1K requests",
                "Query API requests, per thousand",
                "0.0025",
                800,
                "business",
            ),
        ),
    ),
    ProductTemplate(
        "vaultline",
        "Vaultline Secrets Manager",
        (
            _d("active_secrets", "Hrs", "Secret-hours stored", "0.0006", 2000, "flat"),
            _d(
                "api_calls_10k",
                "10K calls",
                "Secret retrievals, per ten thousand",
                "0.0500",
                30,
                "business",
            ),
        ),
    ),
    ProductTemplate(
        "quarry",
        "Quarry Data Pipelines",
        (
            _d("pipeline_hours", "Hrs", "Pipeline worker-hours", "0.4500", 6, "batch"),
            _d("rows_processed_m", "M rows", "Rows processed, per million", "0.8000", 12, "batch"),
            _d("connectors", "Hrs", "Connector-hours", "0.0300", 25, "flat"),
        ),
    ),
    ProductTemplate(
        "beacon",
        "Beacon Security Analytics",
        (
            _d(
                "events_indexed_m",
                "M events",
                "Security events indexed, per million",
                "0.3500",
                20,
                "business",
            ),
            _d("analyst_seats", "Hrs", "Analyst seat-hours", "0.0600", 15, "business"),
        ),
    ),
    ProductTemplate(
        "relay",
        "Relay Edge Gateway",
        (
            _d(
                "requests_m", "M requests", "Gateway requests, per million", "0.6000", 8, "business"
            ),
            _d("egress_gb", "GB", "Data transferred out", "0.0500", 60, "business"),
        ),
    ),
)


@dataclass(frozen=True)
class Country:
    """Where a customer is billed: currency of a local contract, tax rate, timezone offset, region."""

    code: str
    currency: str
    tax_rate: Decimal  # sales tax or VAT as a fraction
    utc_offset: int  # hours; shapes the office-hours curve
    region: str
    legal_suffix: str


COUNTRIES: tuple[Country, ...] = (
    Country("US", "USD", Decimal("0.0625"), -5, "us-east-1", "Inc."),
    Country("US", "USD", Decimal("0.0875"), -8, "us-west-2", "Inc."),
    Country("US", "USD", Decimal(0), -6, "us-east-2", "LLC"),
    Country("DE", "EUR", Decimal("0.19"), 1, "eu-central-1", "GmbH"),
    Country("FR", "EUR", Decimal("0.20"), 1, "eu-west-3", "SAS"),
    Country("NL", "EUR", Decimal("0.21"), 1, "eu-west-1", "B.V."),
    Country("GB", "GBP", Decimal("0.20"), 0, "eu-west-2", "Ltd"),
    Country("JP", "JPY", Decimal("0.10"), 9, "ap-northeast-1", "K.K."),
)

NAME_STEMS: tuple[str, ...] = (
    "Aldermoor",
    "Brightwater",
    "Cinderpeak",
    "Dunmore",
    "Eastlake",
    "Fernhill",
    "Glenrock",
    "Harborview",
    "Ironbridge",
    "Juniper",
    "Kestrel",
    "Larkspur",
    "Marlowe",
    "Northgate",
    "Oakhurst",
    "Pinecrest",
    "Quillon",
    "Redfern",
    "Silverline",
    "Thornbury",
    "Upland",
    "Valemont",
    "Westbrook",
    "Yarrow",
    "Zephyr",
    "Ashcombe",
    "Blackmere",
    "Coppergate",
    "Driftwood",
    "Emberly",
    "Foxglove",
    "Granite",
    "Hollowell",
    "Ivybridge",
    "Kingsley",
    "Lindqvist",
    "Moorfield",
    "Nettleton",
    "Orchard",
    "Pemberton",
    "Ravenscar",
    "Stonebridge",
    "Tidewater",
    "Underhill",
    "Vantage",
    "Whitcombe",
    "Brambleton",
    "Caldwell",
    "Evergreen",
    "Hawthorne",
    "Meridian",
    "Sterling",
    "Tamarind",
    "Wrenfield",
    "Altamira",
    "Sakura",
    "Fujimoto",
    "Kirschbaum",
    "Lindenhof",
    "Beaumont",
)
SECTORS: tuple[str, ...] = (
    "Analytics",
    "Health",
    "Logistics",
    "Bank",
    "Retail",
    "Media",
    "Games",
    "Energy",
    "Insurance",
    "Robotics",
    "Biotech",
    "Travel",
    "Foods",
    "Telecom",
    "Mobility",
    "Labs",
)

# Channel partners authorised to resell through AWS CPPO, with the wholesale discount we grant.
RESELLERS: tuple[tuple[str, Decimal], ...] = (
    ("Northbridge Cloud Partners", Decimal("0.20")),
    ("Cobalt IT Solutions", Decimal("0.15")),
    ("Meridian Cloud Resale", Decimal("0.25")),
)

SELLER_NAME = "Lumenfold Software"
SELLER_EMAIL_DOMAIN = "lumenfold.example"
