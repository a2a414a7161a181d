"""The `contracts` document's items as pydantic models (small documents: validation, not speed).

Amounts and rates are decimals parsed from the text written (see `billing.ingest.documents`):
`"0.03"` and an unquoted YAML `0.03` both give Decimal('0.03'); `1e3` and `.inf` are refused.
Unknown keys are errors, so a misspelt optional field is reported instead of ignored.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from billing.ingest import fields as f
from billing.models import CHANNEL_VALUES


def _exact(parse: f.Parser[Any]) -> Any:
    def validate(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            # pydantic turns ValueError (not TypeError) into a validation error with this text.
            raise ValueError(f'{value!r} is not a decimal written as text, e.g. "12.50"')  # noqa: TRY004
        return parse(str(value))

    return BeforeValidator(validate)


def _none_if_blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _fraction(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= Decimal(1):
        raise ValueError(f"{value} is not a fraction between 0 and 1 (write 3 % as 0.03)")
    return value


Blank = BeforeValidator(_none_if_blank)
Amount = Annotated[Decimal, _exact(f.amount)]
NonNegativeAmount = Annotated[Decimal, _exact(f.non_negative(f.amount))]
UnitPrice = Annotated[Decimal, _exact(f.non_negative(f.rate))]
Fraction = Annotated[Decimal, _exact(f.rate), AfterValidator(_fraction)]
AwsAccountId = Annotated[str, BeforeValidator(lambda v: f.aws_account_id(str(v)))]
Currency = Annotated[str, BeforeValidator(lambda v: f.currency(str(v)))]
Key = Annotated[str, BeforeValidator(lambda v: str(v).strip()), Field(min_length=1, max_length=64)]
Code32 = Annotated[
    str, BeforeValidator(lambda v: str(v).strip()), Field(min_length=1, max_length=32)
]
Text = Annotated[
    str, BeforeValidator(lambda v: str(v).strip()), Field(min_length=1, max_length=255)
]
Channel = Literal["aws_marketplace", "azure_marketplace", "gcp_marketplace", "reseller", "direct"]
assert set(Channel.__args__) == set(CHANNEL_VALUES)  # type: ignore[attr-defined]  # keep in step with models


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountIn(Item):
    account_key: Key
    name: Text
    aws_account_id: Annotated[AwsAccountId | None, Blank] = None
    aws_customer_identifier: Annotated[Key | None, Blank] = None
    azure_subscription_id: Annotated[Key | None, Blank] = None
    gcp_billing_account_id: Annotated[Key | None, Blank] = None


class DimensionIn(Item):
    key: Key
    unit: Code32
    description: Annotated[Text | None, Blank] = None


class ProductIn(Item):
    product_code: Key
    marketplace_product_id: Annotated[Key | None, Blank] = None
    title: Text
    dimensions: list[DimensionIn] = Field(min_length=1)


class RateIn(Item):
    dimension_key: Key
    unit_price: UnitPrice
    included_quantity: NonNegativeAmount = Decimal(0)


class ContractIn(Item):
    contract_key: Key
    account_key: Key
    product_code: Key
    channel: Channel
    offer_id: Annotated[Key | None, Blank] = None
    agreement_id: Annotated[Key | None, Blank] = None
    currency: Currency
    start_date: date
    end_date: Annotated[date | None, Blank] = None
    is_private_offer: bool
    is_renewal: bool
    listing_fee_rate: Annotated[Fraction | None, Blank] = None
    total_contract_value: Annotated[NonNegativeAmount | None, Blank] = None
    discount_pct: Annotated[Fraction | None, Blank] = None
    commitment_amount: Annotated[NonNegativeAmount | None, Blank] = None
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] = 30
    reseller_name: Annotated[Text | None, Blank] = None
    reseller_account_id: Annotated[AwsAccountId | None, Blank] = None
    wholesale_discount_pct: Annotated[Fraction | None, Blank] = None
    tax_party: Literal["aws", "seller", "none"]
    rates: list[RateIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ends_after_start(self) -> ContractIn:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        return self


SECTIONS: dict[str, type[Item]] = {
    "accounts": AccountIn,
    "products": ProductIn,
    "contracts": ContractIn,
}
