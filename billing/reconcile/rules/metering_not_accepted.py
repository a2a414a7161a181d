"""Rule `metering_not_accepted`: metering records AWS did not answer with `Success`.

DOMAIN.md (AWS Metering Service): `BatchMeterUsage` answers each record with `Success`,
`CustomerNotSubscribed` or `DuplicateRecord`, and lists records it did not process in
`UnprocessedRecords` (stored with status `Unprocessed`). Per account × product × dimension ×
month and status this rule raises `metering_customer_not_subscribed`,
`metering_duplicate_record` or `metering_unprocessed` (any other status:
`metering_<status>`), with counts, quantities, first/last timestamp, and what AWS accepted
for the same hours (a retry that later succeeded, or the original a duplicate repeats).

Expected = what we submitted in those records; observed = what AWS accepted (`Success`) for
the same product, customer, dimension and hour. The customer is resolved through its
`aws_customer_identifier` or, for the newer form, its `aws_account_id`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Subquery, and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from billing.models import Account, ContractRate, MeteringResult
from billing.reconcile.config import current
from billing.reconcile.contracts_in_force import AWS_CHANNELS, contracts_in_force, rate_join
from billing.reconcile.evidence import as_datetime, exact, moment, text, value_of
from billing.reconcile.findings import Finding
from billing.reconcile.periods import period_bounds
from billing.reconcile.sql import id_list, split_ids

RULE = "metering_not_accepted"
SUCCESS = "Success"

KINDS = {
    "CustomerNotSubscribed": "metering_customer_not_subscribed",
    "DuplicateRecord": "metering_duplicate_record",
    "Unprocessed": "metering_unprocessed",
}


def kind_for(status: str) -> str:
    """The exception kind of a metering status (``TimestampOutOfBounds`` → ``metering_timestamp_out_of_bounds``)."""
    return KINDS.get(status) or "metering_" + re.sub(r"(?<!^)(?=[A-Z])", "_", status).lower()


def customer_accounts() -> Subquery:
    """customer_ref → account id: every account under its CustomerIdentifier and its AWS account id."""
    by_identifier = (select(Account.aws_customer_identifier.label("customer_ref"), Account.id.label("account_id"))
                     .where(Account.aws_customer_identifier.is_not(None)))
    by_account_id = (select(Account.aws_account_id.label("customer_ref"), Account.id.label("account_id"))
                     .where(Account.aws_account_id.is_not(None)))
    refs = by_identifier.union_all(by_account_id).subquery("refs")
    return (select(refs.c.customer_ref, func.min(refs.c.account_id).label("account_id"))
            .group_by(refs.c.customer_ref).subquery("customer_accounts"))


def find(session: Session, period: str) -> Iterator[Finding]:
    """Non-Success metering results of `period`, grouped (see the module docstring)."""
    settings = current()
    bounds = period_bounds(period)
    m = MeteringResult
    accepted = aliased(MeteringResult, name="accepted")
    customers = customer_accounts()
    cif = contracts_in_force(period, AWS_CHANNELS)
    account_id = customers.c.account_id
    # Unknown customers are kept apart per customer_ref; known ones merge all their refs.
    unknown_ref = case((account_id.is_(None), m.customer_ref), else_=literal(""))
    grouped = (
        select(
            account_id.label("account_id"), unknown_ref.label("unknown_ref"), m.product_code, m.dimension,
            m.status, func.count().label("records"), func.sum(m.quantity).label("quantity"),
            func.min(m.timestamp).label("first_ts"), func.max(m.timestamp).label("last_ts"),
            func.sum(accepted.quantity).label("accepted_quantity"),
            func.count(accepted.id).label("hours_accepted"),
            func.sum(case((and_(accepted.id.is_not(None), accepted.quantity != m.quantity), 1), else_=0))
            .label("hours_accepted_other_quantity"),
            id_list(m.id).label("ids"), id_list(m.customer_ref).label("customer_refs"),
        )
        .select_from(m)
        .outerjoin(customers, customers.c.customer_ref == m.customer_ref)
        .outerjoin(accepted, and_(accepted.product_code == m.product_code, accepted.customer_ref == m.customer_ref,
                                  accepted.dimension == m.dimension, accepted.timestamp == m.timestamp,
                                  accepted.status == SUCCESS))
        .where(m.status != SUCCESS, m.timestamp >= bounds.start, m.timestamp < bounds.end)
        .group_by(account_id, unknown_ref, m.product_code, m.dimension, m.status)
        .subquery("not_accepted")
    )
    g = grouped.c
    query = (
        select(grouped, cif.c.account_key, cif.c.contract_key, cif.c.channel, cif.c.currency, ContractRate.unit_price)
        .outerjoin(cif, and_(cif.c.account_id == g.account_id, cif.c.product_code == g.product_code))
        .outerjoin(ContractRate, rate_join(cif.c.contract_id, g.dimension))
        .order_by(g.account_id, g.unknown_ref, g.product_code, g.dimension, g.status)
    )
    for row in session.execute(query):
        yield _finding(row, period, settings.max_record_refs)


def _finding(row: Any, period: str, limit: int) -> Finding:
    submitted, accepted = exact(row.quantity), exact(row.accepted_quantity)
    price = row.unit_price
    refs: dict[str, list[str]] = {"metering_results": split_ids(row.ids, limit)}
    if row.contract_key:
        refs["contracts"] = [row.contract_key]
    key_parts: tuple[str, ...] = (row.product_code, row.dimension)
    if row.account_id is None:
        key_parts += (f"ref:{row.unknown_ref}",)
    who = row.account_key or (f"account {row.account_id}" if row.account_id else f"unknown customer {row.unknown_ref}")
    return Finding(
        rule=RULE, kind=kind_for(row.status), period=period, channel=row.channel or "aws_marketplace",
        account_id=row.account_id, key_parts=key_parts,
        description=(f"{row.records} metering record(s) for {who} {row.product_code}/{row.dimension} in {period} "
                     f"were answered {row.status} (quantity {text(submitted)}); AWS accepted "
                     f"{text(accepted)} for the same hours."),
        product_code=row.product_code, dimension_key=row.dimension, currency=row.currency,
        expected_quantity=submitted, observed_quantity=accepted,
        expected_amount=value_of(submitted, price), observed_amount=value_of(accepted, price),
        record_refs=refs,
        details={
            "status": row.status, "records": row.records, "quantity": text(submitted),
            "first_timestamp": moment(as_datetime(row.first_ts)), "last_timestamp": moment(as_datetime(row.last_ts)),
            "hours_also_accepted": row.hours_accepted, "accepted_quantity_same_hours": text(accepted),
            "hours_accepted_with_other_quantity": row.hours_accepted_other_quantity,
            "customer_refs": split_ids(row.customer_refs, limit),
            "contract_key": row.contract_key, "unit_price": text(price),
        },
    )
