"""`contracts`: the YAML/JSON document of accounts, products (with dimensions) and contracts
(with rates) — our side of what was agreed.

Items are upserted by their natural keys (`account_key`, `product_code`, product + dimension
`key`, `contract_key`, contract + rate `dimension_key`), so loading a changed document updates
what it names; a contract's rates become exactly those listed. Each item is one "row": its
errors carry the item's line and a path such as `contracts[3].rates[0].unit_price`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, delete, select, tuple_
from sqlalchemy.exc import IntegrityError

from billing.ingest import lookups
from billing.ingest.adapters.contracts_schema import (
    SECTIONS,
    AccountIn,
    ContractIn,
    Item,
    ProductIn,
)
from billing.ingest.batches import already_loaded, close_batch, loaded_meanwhile, open_batch
from billing.ingest.documents import Document, DocumentError, load_document
from billing.ingest.errors import IngestError, RowError
from billing.ingest.inserts import count_rows, upsert
from billing.ingest.reading import RawRow, sha256_of, sniff_problems
from billing.ingest.rejects import RejectsWriter, default_rejects_path
from billing.ingest.report import IngestReport
from billing.models import Account, Contract, ContractRate, Dimension, Product

KIND = "contracts"
SUFFIXES = (".yaml", ".yml", ".json")
_TABLES = (
    Account.__table__,
    Product.__table__,
    Dimension.__table__,
    Contract.__table__,
    ContractRate.__table__,
)


@dataclass
class Entry:
    """One item of the document, validated or not."""

    section: str
    index: int
    line: int
    raw: Any
    item: Item | None = None
    errors: list[RowError] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.section}[{self.index}]"


def ingest_contracts(
    engine: Engine, path: Path, *, skip_bad_rows: bool = False, rejects_path: Path | None = None
) -> IngestReport:
    """Validate the whole document, then upsert its items in one transaction."""
    sha256 = sha256_of(path)
    with (
        engine.connect() as conn,
        RejectsWriter(rejects_path or default_rejects_path(path), None) as rejects,
    ):
        try:
            with conn.begin():
                done = already_loaded(conn, KIND, sha256, path.name)
                if done is not None:
                    return done
                report = _load(conn, path, sha256, skip_bad_rows, rejects)
        except IntegrityError:
            rejects.discard()
            # Another process may have loaded the same bytes meanwhile: then its load stands.
            done = loaded_meanwhile(conn, KIND, sha256, path.name)
            if done is None:
                raise
            return done
        report.rejects_path = rejects.publish()
    return report


def _load(
    conn: Connection, path: Path, sha256: str, skip_bad_rows: bool, rejects: RejectsWriter
) -> IngestReport:
    problems = sniff_problems(path)
    if problems:
        raise IngestError(path.name, KIND, problems)
    try:
        document = load_document(path)
    except DocumentError as exc:
        raise IngestError(path.name, KIND, exc.errors) from None
    try:
        entries = _validate(conn, document)
    except _DocumentShapeError as exc:
        raise IngestError(path.name, KIND, exc.errors) from None
    bad = [e for e in entries if e.errors]
    if bad and not skip_bad_rows:
        raise IngestError(path.name, KIND, [err for e in bad for err in e.errors], len(entries))
    report = IngestReport(kind=KIND, filename=path.name, sha256=sha256, rows_read=len(entries))
    report.batch_id = open_batch(conn, KIND, path, sha256)
    before = sum(count_rows(conn, t) for t in _TABLES)
    good = [e for e in entries if not e.errors]
    removed = _store(conn, good)
    for entry in bad:
        rejects.write(RawRow(entry.line, None, json.dumps(entry.raw, default=str)), entry.errors)
    report.rows_loaded, report.rows_rejected = len(good), len(bad)
    report.records_new = sum(count_rows(conn, t) for t in _TABLES) - before + removed
    close_batch(conn, report.batch_id, report)
    return report


# -- validation ----------------------------------------------------------------------------


class _DocumentShapeError(Exception):
    """The document is not the three lists this format is made of."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("; ".join(map(str, errors)))


def _validate(conn: Connection, document: Document) -> list[Entry]:
    data = document.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _DocumentShapeError(
            [RowError(1, "(file)", "must be a mapping with lists accounts, products, contracts")]
        )
    unknown = [k for k in data if k not in SECTIONS]
    top_errors = [
        RowError(
            document.line_of((k,)), str(k), f"unknown section (expected: {', '.join(SECTIONS)})"
        )
        for k in unknown
    ]
    entries: list[Entry] = []
    for section, model in SECTIONS.items():
        items = data.get(section) or []
        if not isinstance(items, list):
            top_errors.append(RowError(document.line_of((section,)), section, "must be a list"))
            continue
        for index, raw in enumerate(items):
            entry = Entry(section, index, document.line_of((section, index)), raw)
            try:
                entry.item = model.model_validate(raw)
            except ValidationError as exc:
                entry.errors = [_row_error(document, entry, e) for e in exc.errors()]
            entries.append(entry)
    if top_errors:
        raise _DocumentShapeError(top_errors)
    _check_unique_and_references(conn, document, entries)
    return entries


def _row_error(document: Document, entry: Entry, error: Any) -> RowError:
    loc = tuple(error["loc"])
    where = entry.where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    kind = error["type"]
    if kind == "missing":
        reason = "is required"
    elif kind == "extra_forbidden":
        reason = "is not a field of this format (misspelt?)"
    else:
        reason = str(error["msg"]).removeprefix("Value error, ")
        if (
            kind != "value_error"
            and "input" in error
            and not isinstance(error["input"], (dict, list))
        ):
            reason += f" (got {error['input']!r})"
    return RowError(document.line_of((entry.section, entry.index, *loc)), where, reason)


def _check_unique_and_references(
    conn: Connection, document: Document, entries: list[Entry]
) -> None:
    def err(entry: Entry, name: str, reason: str) -> None:
        field_name = name.split("[")[0].split(".")[0]
        line = document.line_of((entry.section, entry.index, field_name))
        entry.errors.append(RowError(line, f"{entry.where}.{name}", reason))

    first: dict[tuple[str, str], Entry] = {}

    def unique(entry: Entry, name: str, value: str | None) -> None:
        if value is None:
            return
        other = first.setdefault((name, value), entry)
        if other is not entry:
            err(entry, name, f"{value!r} already appears at {other.where} (line {other.line})")

    db_accounts = lookups.accounts_by_key(conn)
    aws_owner = {
        aws: key
        for key, aws in conn.execute(
            select(Account.account_key, Account.aws_account_id).where(
                Account.aws_account_id.is_not(None)
            )
        )
    }
    # Items that failed validation still claim their key, so references to them say why they fail.
    accounts = _claimed(entries, "accounts", "account_key")
    products = _claimed(entries, "products", "product_code")
    for entry in (e for e in entries if isinstance(e.item, AccountIn)):
        account = entry.item
        unique(entry, "account_key", account.account_key)
        unique(entry, "aws_account_id", account.aws_account_id)
        owner = aws_owner.get(account.aws_account_id or "")
        if owner is not None and owner != account.account_key:
            err(
                entry,
                "aws_account_id",
                f"{account.aws_account_id} already belongs to account {owner!r}",
            )

    db_products = lookups.product_codes(conn)
    db_dimensions: dict[str, set[str]] = {}
    for product_code, key in lookups.dimensions(conn):
        db_dimensions.setdefault(product_code, set()).add(key)
    for entry in (e for e in entries if isinstance(e.item, ProductIn)):
        product = entry.item
        unique(entry, "product_code", product.product_code)
        unique(entry, "marketplace_product_id", product.marketplace_product_id)
        seen: set[str] = set()
        for i, dimension in enumerate(product.dimensions):
            if dimension.key in seen:
                err(entry, f"dimensions[{i}].key", f"dimension {dimension.key!r} is listed twice")
            seen.add(dimension.key)

    for entry in (e for e in entries if isinstance(e.item, ContractIn)):
        contract = entry.item
        unique(entry, "contract_key", contract.contract_key)
        _check_reference(
            entry, "account_key", contract.account_key, accounts, set(db_accounts), err
        )
        known_dims = _check_reference(
            entry, "product_code", contract.product_code, products, db_products, err
        )
        if known_dims:
            dims = (
                {d.key for d in products[contract.product_code].item.dimensions}  # type: ignore[union-attr]
                if contract.product_code in products
                else db_dimensions.get(contract.product_code, set())
            )
            seen = set()
            for i, rate in enumerate(contract.rates):
                if rate.dimension_key not in dims:
                    err(
                        entry,
                        f"rates[{i}].dimension_key",
                        f"{rate.dimension_key!r} is not a dimension of product {contract.product_code!r}",
                    )
                if rate.dimension_key in seen:
                    err(
                        entry,
                        f"rates[{i}].dimension_key",
                        f"a rate for {rate.dimension_key!r} is listed twice",
                    )
                seen.add(rate.dimension_key)


def _claimed(entries: list[Entry], section: str, key: str) -> dict[str, Entry]:
    claimed: dict[str, Entry] = {}
    for entry in entries:
        if entry.section == section and isinstance(entry.raw, dict):
            claimed.setdefault(str(entry.raw.get(key, "")).strip(), entry)
    return claimed


def _check_reference(
    entry: Entry, name: str, value: str, in_doc: dict[str, Entry], in_db: set[str], err: Any
) -> bool:
    target = in_doc.get(value)
    if target is not None:
        if target.errors:
            err(
                entry,
                name,
                f"{value!r} refers to {target.where} (line {target.line}), which has errors",
            )
            return False
        return True
    if value in in_db:
        return True
    err(entry, name, f"unknown {name} {value!r} (neither in this document nor already loaded)")
    return False


# -- storing -------------------------------------------------------------------------------


def _store(conn: Connection, entries: list[Entry]) -> int:
    """Upsert the items; returns how many contract rates were removed (no longer listed)."""
    accounts = [e.item for e in entries if isinstance(e.item, AccountIn)]
    products = [e.item for e in entries if isinstance(e.item, ProductIn)]
    contracts = [e.item for e in entries if isinstance(e.item, ContractIn)]
    upsert(conn, Account.__table__, [a.model_dump() for a in accounts], ("account_key",))
    upsert(
        conn,
        Product.__table__,
        [p.model_dump(exclude={"dimensions"}) for p in products],
        ("product_code",),
    )
    product_ids = {code: i for code, i in conn.execute(select(Product.product_code, Product.id))}
    upsert(
        conn,
        Dimension.__table__,
        [
            {"product_id": product_ids[p.product_code], **d.model_dump()}
            for p in products
            for d in p.dimensions
        ],
        ("product_id", "key"),
    )
    account_ids = lookups.accounts_by_key(conn)
    upsert(
        conn,
        Contract.__table__,
        [
            {
                "account_id": account_ids[c.account_key],
                "product_id": product_ids[c.product_code],
                **c.model_dump(exclude={"account_key", "product_code", "rates"}),
            }
            for c in contracts
        ],
        ("contract_key",),
    )
    contract_ids = lookups.contracts_by_key(conn)
    rates = [
        {"contract_id": contract_ids[c.contract_key], **r.model_dump()}
        for c in contracts
        for r in c.rates
    ]
    # The document lists a contract's whole price list: rates it no longer names are removed.
    ids = [contract_ids[c.contract_key] for c in contracts]
    keep = [(r["contract_id"], r["dimension_key"]) for r in rates]
    stale = delete(ContractRate.__table__).where(ContractRate.__table__.c.contract_id.in_(ids))
    if keep:
        stale = stale.where(
            tuple_(
                ContractRate.__table__.c.contract_id, ContractRate.__table__.c.dimension_key
            ).not_in(keep)
        )
    removed = conn.execute(stale).rowcount if ids else 0
    upsert(conn, ContractRate.__table__, rates, ("contract_id", "dimension_key"))
    return removed
