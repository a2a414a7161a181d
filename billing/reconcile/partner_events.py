"""SQL building blocks over the AWS `billing_event` feed, shared by the money-side rules.

Conventions of the feed (DOMAIN.md, AWS seller guide "data-feed-billing-event"):
SELLER_REV_SHARE is positive (gross), AWS_REV_SHARE negative (listing fee), SELLER_TAX_SHARE
positive, AWS_TAX_SHARE informational; `<type>_REFUND` / `<type>_CREDIT` carry the opposite
sign of their base type. A DISBURSED row offsets its INVOICED parent (opposite sign, through
`parent_billing_event_id`) and points to the payout row (transaction_type DISBURSEMENT, negative
total) through `disbursement_billing_event_id`.

A row belongs to the *billed period* of the usage it charges: its own
`usage_period_start_date`, else its parent's, else the invoice date. Payouts and failures take
the billed period of the rows they pay, so a fault is reported in the month whose money it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import KeyedColumnElement

from billing.models import Account, BillingEvent, Contract, Product
from billing.reconcile.periods import period_bounds
from billing.reconcile.sql import id_list

INVOICED, FORGIVEN, DISBURSED = "INVOICED", "FORGIVEN", "DISBURSED"
SELLER_REV_SHARE, AWS_REV_SHARE = "SELLER_REV_SHARE", "AWS_REV_SHARE"
SELLER_TAX_SHARE, AWS_TAX_SHARE = "SELLER_TAX_SHARE", "AWS_TAX_SHARE"
DISBURSEMENT, DISBURSEMENT_FAILURE = "DISBURSEMENT", "DISBURSEMENT_FAILURE"
PAYOUT_TYPES = (DISBURSEMENT, DISBURSEMENT_FAILURE)

Event = aliased(BillingEvent, name="ev")
Parent = aliased(BillingEvent, name="parent")


def in_period(day: ColumnElement[Any], period: str) -> ColumnElement[bool]:
    """`day` falls inside the calendar month `period` (UTC, AWS cuts at 00:00 UTC)."""
    bounds = period_bounds(period)
    return and_(day >= bounds.first_day, day < bounds.end.date())


def is_current(ev: Any = BillingEvent) -> ColumnElement[bool]:
    """The row is in the feed's current state (the feed marks withdrawn rows with `delete_date`)."""
    return ev.delete_date.is_(None)


def billed_date(ev: Any, parent: Any | None = None) -> ColumnElement[date]:
    """The date whose month the row's money belongs to (see the module docstring)."""
    if parent is None:
        return func.coalesce(ev.usage_period_start_date, ev.invoice_date, ev.action_date)
    return func.coalesce(
        ev.usage_period_start_date,
        parent.usage_period_start_date,
        ev.invoice_date,
        parent.invoice_date,
        ev.action_date,
    )


def natural_sign(transaction_type: ColumnElement[str]) -> ColumnElement[int]:
    """+1 for money towards the seller, −1 for money away, by transaction type.

    Used to read rows whose sign the feed does not fix (e.g. FORGIVEN) in the direction of
    the charge they revert: a forgiven SELLER_REV_SHARE is a loss of +x whatever its sign."""
    reversal = or_(transaction_type.endswith("_REFUND"), transaction_type.endswith("_CREDIT"))
    fee = transaction_type.startswith(AWS_REV_SHARE)
    return case((and_(reversal, fee), 1), (reversal, -1), (fee, -1), else_=1)


def signed_amount(ev: Any) -> ColumnElement[Any]:
    """The row's amount in its type's natural direction (|amount| × natural sign)."""
    return func.abs(ev.amount) * natural_sign(ev.transaction_type)


def invoice_key(ev: Any) -> ColumnElement[str]:
    """The buyer invoice a row belongs to: listing-fee rows sit on the seller's own invoice
    (invoice_variant LISTING_FEE) and name the buyer invoice in `buyer_invoice_id`."""
    return func.coalesce(ev.buyer_invoice_id, ev.invoice_id)


def adjusted_invoice_key(ev: Any, parent: Any) -> ColumnElement[str]:
    """The buyer invoice a refund or forgiven row takes money off: its parent's (the INVOICED
    row it reverses), else its own."""
    return func.coalesce(
        parent.buyer_invoice_id, parent.invoice_id, ev.buyer_invoice_id, ev.invoice_id
    )


def inherited_parties(ev: Any, parent: Any) -> list[Any]:
    """`end_user`, `product_id` and `agreement_id` of a group of rows that may leave them to
    their parent (refunds, forgiven rows): each row's own, else its parent's; the group's MIN."""
    return [
        func.min(func.coalesce(getattr(ev, column), getattr(parent, column))).label(label)
        for column, label in (
            ("end_user_account_id", "end_user"),
            ("product_id", "product_id"),
            ("agreement_id", "agreement_id"),
        )
    ]


def account_id_for(aws_account_id: ColumnElement[str]) -> Any:
    """Our account id for a 12-digit AWS account id (correlated scalar subquery)."""
    return (
        select(Account.id)
        .where(Account.aws_account_id == aws_account_id)
        .order_by(Account.id)
        .limit(1)
        .scalar_subquery()
    )


def product_code_for(marketplace_product_id: ColumnElement[str]) -> Any:
    """Our product code for a marketplace product id (correlated scalar subquery)."""
    return (
        select(Product.product_code)
        .where(Product.marketplace_product_id == marketplace_product_id)
        .limit(1)
        .scalar_subquery()
    )


def best_contract(
    source: Any,
    keys: Sequence[str],
    *,
    end_user: str = "end_user",
    product_id: str = "product_id",
    agreement_id: str = "agreement_id",
    on: str = "billed_on",
) -> Any:
    """Per row of `source` (identified by its `keys` columns): the marketplace contract behind it.

    The agreement id decides when a contract names it; otherwise the account (by AWS account
    id) and product (by marketplace product id) with a non-direct contract valid on the date
    `on`. Ties go to the agreement match, then the latest start, then the lowest id, so the
    answer is deterministic. Returns a subquery with the key columns and `contract_id`;
    outer-join it on the keys (rows without a contract are absent). Each way of matching is an
    indexed equi-join (an OR of both in one join condition made a nested loop over contracts)."""
    wanted = list(dict.fromkeys([*keys, end_user, product_id, agreement_id, on]))
    src = select(*[source.c[k] for k in wanted]).cte(
        f"contract_src_{len(keys)}_{'_'.join(keys)}"[:60]
    )
    key_cols = [src.c[k] for k in keys]
    valid = and_(
        or_(src.c[on].is_(None), Contract.start_date <= src.c[on]),
        or_(src.c[on].is_(None), Contract.end_date.is_(None), Contract.end_date >= src.c[on]),
    )
    by_agreement = select(
        *key_cols,
        Contract.id.label("contract_id"),
        literal(0).label("priority"),
        Contract.start_date.label("start_date"),
    ).join(
        Contract,
        and_(Contract.agreement_id.is_not(None), Contract.agreement_id == src.c[agreement_id]),
    )
    by_account = (
        select(
            *key_cols,
            Contract.id.label("contract_id"),
            literal(1).label("priority"),
            Contract.start_date.label("start_date"),
        )
        .join(Account, Account.aws_account_id == src.c[end_user])
        .join(Contract, Contract.account_id == Account.id)
        .join(
            Product,
            and_(
                Product.id == Contract.product_id,
                Product.marketplace_product_id == src.c[product_id],
            ),
        )
        .where(Contract.channel != "direct", valid)
    )
    candidates = union_all(by_agreement, by_account).subquery("contract_candidates")
    rank = func.row_number().over(
        partition_by=[candidates.c[k] for k in keys],
        order_by=[candidates.c.priority, candidates.c.start_date.desc(), candidates.c.contract_id],
    )
    ranked = select(
        *[candidates.c[k] for k in keys], candidates.c.contract_id, rank.label("contract_rank")
    ).subquery("ranked_contracts")
    return (
        select(*[ranked.c[k] for k in keys], ranked.c.contract_id)
        .where(ranked.c.contract_rank == 1)
        .subquery("best_contract")
    )


def join_on_keys(left: Any, right: Any, keys: Sequence[str]) -> ColumnElement[bool]:
    """Equality of the `keys` columns of two subqueries (NULL keys never match)."""
    return and_(*[left.c[k] == right.c[k] for k in keys])


def one_or_none(column: KeyedColumnElement[Any] | ColumnElement[Any]) -> ColumnElement[Any]:
    """The group's single value of `column`, or NULL when the group has several."""
    return case((func.min(column) == func.max(column), func.min(column)), else_=literal(None))


def payout_children() -> Any:
    """Per payout id: Σ and ids of the DISBURSED rows pointing to it, and what they pay for
    (earliest billed date; the one end user / product / agreement, or NULL when several)."""
    child, parent = aliased(BillingEvent, name="child"), aliased(BillingEvent, name="child_parent")
    return (
        select(
            child.disbursement_billing_event_id.label("payout_id"),
            func.min(billed_date(child, parent)).label("billed_on"),
            one_or_none(func.coalesce(child.end_user_account_id, parent.end_user_account_id)).label(
                "end_user"
            ),
            one_or_none(func.coalesce(child.product_id, parent.product_id)).label("product_id"),
            one_or_none(func.coalesce(child.agreement_id, parent.agreement_id)).label(
                "agreement_id"
            ),
            func.sum(child.amount).label("children_total"),
            func.count(child.id).label("children_count"),
            id_list(child.billing_event_id).label("child_ids"),
        )
        .select_from(child)
        .outerjoin(parent, parent.billing_event_id == child.parent_billing_event_id)
        .where(
            is_current(child),
            child.action == DISBURSED,
            child.disbursement_billing_event_id.is_not(None),
            child.transaction_type.not_in(PAYOUT_TYPES),
        )
        .group_by(child.disbursement_billing_event_id)
        .subquery("payout_children")
    )


def invoice_billed_dates() -> Any:
    """Per buyer invoice id: the earliest billed date of its INVOICED SELLER_REV_SHARE rows, so
    a refund, credit or request that names only the invoice lands in the month it billed."""
    ev = aliased(BillingEvent, name="billed_row")
    return (
        select(invoice_key(ev).label("invoice_key"), func.min(billed_date(ev)).label("billed_on"))
        .where(is_current(ev), ev.action == INVOICED, ev.transaction_type == SELLER_REV_SHARE)
        .group_by(invoice_key(ev))
        .subquery("invoice_billed_on")
    )


def payout_failed(payout_id: ColumnElement[str]) -> ColumnElement[bool]:
    """A current DISBURSEMENT_FAILURE row names the payout `payout_id` (the money bounced)."""
    failure = aliased(BillingEvent, name="failure_row")
    return (
        select(failure.id)
        .where(
            is_current(failure),
            failure.transaction_type == DISBURSEMENT_FAILURE,
            or_(
                failure.disbursement_billing_event_id == payout_id,
                failure.parent_billing_event_id == payout_id,
            ),
        )
        .exists()
    )
