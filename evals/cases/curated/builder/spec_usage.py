"""The usage part of a case spec: our hourly usage, what metering sent and AWS answered, and how the
partner's daily feed departs from what AWS accepted."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from billing.bundles.types import Dec
from evals.cases.curated.builder.spec_base import HoursField, Spec


class UsageDimSpec(Spec):
    per_hour: Dec
    weekend_per_hour: Dec | None = None
    curve: Literal["business", "flat", "batch", "apac"] = "business"


class UsageSet(HoursField):
    """Our usage in these hours is exactly `quantity` (per hour)."""

    dim: str
    quantity: Dec


class MeterRule(HoursField):
    """What happened to the metering records of these hours (default: Success at the usage hour)."""

    dim: str | None = None
    status: Literal[
        "Success", "Unprocessed", "CustomerNotSubscribed", "DuplicateRecord", "missing"
    ] = "Success"
    send_as_dim: str | None = Field(
        default=None, description="The dimension key the record was sent under."
    )
    also_as: Literal["account_id", "identifier"] | None = Field(
        default=None,
        description="Also sent (and accepted) under the buyer's other customer reference.",
    )
    copy_as_dim: str | None = Field(
        default=None, description="Also sent (and accepted) under this other dimension key."
    )
    submitted_delay_minutes: int = 5


class PartnerRule(Spec):
    """How the partner's daily feed departs from what AWS accepted."""

    dim: str | None = None
    days: str | None = None
    rate: Dec | None = None
    offer_id: str | None = None
    agreement_id: str | None = None
    next_day_hours: str | None = Field(
        default=None, description="Accepted hours the feed reports on the next day."
    )
    description: str | None = None
    drop: bool = False

    @model_validator(mode="after")
    def _scoped(self) -> PartnerRule:
        if self.days is None and self.next_day_hours is None:
            raise ValueError("a partner rule needs `days` or `next_day_hours`")
        return self


class UsageSpec(Spec):
    product: str
    dims: dict[str, UsageDimSpec]
    set: list[UsageSet] = Field(default_factory=list)
    metering: list[MeterRule] = Field(default_factory=list)
    partner: list[PartnerRule] = Field(default_factory=list)
    send_as: Literal["identifier", "account_id"] = "identifier"
    metered: bool = Field(
        default=True, description="False: a channel without AWS metering (Azure, Google, direct)."
    )
    partner_feed: bool = True
    region: str = "us-east-1"
    start: date | None = None
    end: date | None = Field(default=None, description="Last day with usage (inclusive).")
