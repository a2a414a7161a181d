"""Reference data read once per file into dicts, so that rows resolve ids without queries."""

from __future__ import annotations

from sqlalchemy import Connection, select

from billing.models import Account, Contract, Dimension, Discrepancy, Product


def accounts_by_key(conn: Connection) -> dict[str, int]:
    """account_key → accounts.id."""
    return {k: i for k, i in conn.execute(select(Account.account_key, Account.id))}


def accounts_by_aws_id(conn: Connection) -> dict[str, int]:
    """12-digit AWS account id → accounts.id."""
    rows = conn.execute(
        select(Account.aws_account_id, Account.id).where(Account.aws_account_id.is_not(None))
    )
    return {k: i for k, i in rows}


def accounts_by_customer_identifier(conn: Connection) -> dict[str, int]:
    """AWS Metering CustomerIdentifier → accounts.id."""
    rows = conn.execute(
        select(Account.aws_customer_identifier, Account.id).where(
            Account.aws_customer_identifier.is_not(None)
        )
    )
    return {k: i for k, i in rows}


def product_codes(conn: Connection) -> set[str]:
    """Every known product_code."""
    return set(conn.execute(select(Product.product_code)).scalars())


def products_by_marketplace_id(conn: Connection) -> dict[str, str]:
    """marketplace_product_id (what AWS feeds call `product_id`) → product_code."""
    rows = conn.execute(
        select(Product.marketplace_product_id, Product.product_code).where(
            Product.marketplace_product_id.is_not(None)
        )
    )
    return {k: c for k, c in rows}


def dimensions(conn: Connection) -> set[tuple[str, str]]:
    """Every (product_code, dimension key) pair."""
    rows = conn.execute(
        select(Product.product_code, Dimension.key).join(
            Dimension, Dimension.product_id == Product.id
        )
    )
    return {(p, d) for p, d in rows}


def contracts_by_key(conn: Connection) -> dict[str, int]:
    """contract_key → contracts.id."""
    return {k: i for k, i in conn.execute(select(Contract.contract_key, Contract.id))}


def exceptions_by_natural_key(conn: Connection) -> dict[str, int]:
    """Discrepancy natural_key → exceptions.id (for messages that refer to an exception)."""
    return {k: i for k, i in conn.execute(select(Discrepancy.natural_key, Discrepancy.id))}
