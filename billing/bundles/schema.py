"""The case bundle: one self-contained JSON document per exception.

It holds the exception and every record needed to triage it, so a case can be triaged,
stored as an eval case, or moved into another database without the rest of the data.
`schema_version` is ``MAJOR.MINOR``: a reader accepts its own major version only; minor
versions only ever add optional fields. The JSON Schema in `case_bundle.schema.json` is
generated from these models (`python -m billing.bundles.json_schema`).
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

from billing.bundles.labels import ExpectedLabels
from billing.bundles.records import (
    AccountRecord,
    AgreementRecord,
    BillingEventRecord,
    ContractRecord,
    CreditNoteRecord,
    ExceptionRecord,
    FxRateRecord,
    InvoiceRecord,
    MessageRecord,
    MeteringResultRecord,
    MeteringStatusCount,
    PartnerUsageRecord,
    PaymentRecord,
    PriorException,
    ProductRecord,
    RefundRequestRecord,
    UsageDay,
    UsageHour,
)

SCHEMA_VERSION = "1.0"
SUPPORTED_MAJOR = 1
_VERSION_RE = re.compile(r"^([0-9]+)\.([0-9]+)$")


class BundleVersionError(ValueError):
    """A bundle written for a schema version this build cannot read."""


def check_schema_version(version: object) -> str:
    """Return `version` if this build reads it, else raise BundleVersionError saying why."""
    if not isinstance(version, str) or not (match := _VERSION_RE.match(version)):
        raise BundleVersionError(f"schema_version {version!r} is not MAJOR.MINOR (this build writes {SCHEMA_VERSION!r})")
    if int(match.group(1)) != SUPPORTED_MAJOR:
        raise BundleVersionError(
            f"schema_version {version!r} has major version {match.group(1)}; this build reads "
            f"{SUPPORTED_MAJOR}.x bundles only (it writes {SCHEMA_VERSION!r}); export the case again "
            f"with a matching version of the tool")
    return version


class UsageSection(BaseModel):
    """Our usage of the case's products: daily sums over the window, and chosen hours.

    The window is the period plus one day either side (usage near 00:00 UTC at a month
    boundary is where timing differences live). Hourly rows are the first and last
    `boundary_hours` hours of the period and any hour the exception's details name."""

    model_config = ConfigDict(extra="forbid")

    window_start: date
    window_end: date = Field(description="Last day of the window (inclusive).")
    boundary_hours: int = Field(ge=0, le=72)
    daily: list[UsageDay] = Field(default_factory=list)
    hourly: list[UsageHour] = Field(default_factory=list)


class MeteringSection(BaseModel):
    """What AWS answered to our metering in the period: counts per status, and every record not `Success`."""

    model_config = ConfigDict(extra="forbid")

    status_counts: list[MeteringStatusCount] = Field(default_factory=list)
    results: list[MeteringResultRecord] = Field(default_factory=list)


class CaseBundle(BaseModel):
    """One exception and every record needed to triage it."""

    model_config = ConfigDict(extra="forbid", title="CaseBundle")

    schema_version: str = Field(default=SCHEMA_VERSION, pattern=r"^[0-9]+\.[0-9]+$",
                                description="MAJOR.MINOR; readers refuse a major version they do not know.")
    exception: ExceptionRecord
    account: AccountRecord | None = None
    products: list[ProductRecord] = Field(default_factory=list)
    contracts: list[ContractRecord] = Field(default_factory=list)
    agreements: list[AgreementRecord] = Field(default_factory=list)
    usage: UsageSection | None = None
    partner_usage: list[PartnerUsageRecord] = Field(default_factory=list)
    metering: MeteringSection = Field(default_factory=MeteringSection)
    billing_events: list[BillingEventRecord] = Field(default_factory=list)
    invoices: list[InvoiceRecord] = Field(default_factory=list)
    credit_notes: list[CreditNoteRecord] = Field(default_factory=list)
    refund_requests: list[RefundRequestRecord] = Field(default_factory=list)
    payments: list[PaymentRecord] = Field(default_factory=list)
    fx_rates: list[FxRateRecord] = Field(default_factory=list)
    messages: list[MessageRecord] = Field(default_factory=list)
    history: list[PriorException] = Field(
        default_factory=list, description="The account's earlier exceptions, latest period first.")
    expected: ExpectedLabels | None = Field(
        default=None, description="Labels for evals; never shown to a triage backend.")

    @field_validator("schema_version")
    @classmethod
    def _known_major(cls, value: str) -> str:
        return check_schema_version(value)

    @property
    def case_id(self) -> str:
        """The case's id across databases: the exception's natural key."""
        return self.exception.natural_key
