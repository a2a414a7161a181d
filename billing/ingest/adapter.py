"""The contract every row-oriented format adapter fulfils, and the helper that reads fields.

An adapter turns one row (a CSV row, or one JSONL line) into zero or more records for its
table, appending a `RowError` for every bad field instead of stopping at the first. The
pipeline calls `convert` twice per row — once to validate, once to load — so conversion must
be deterministic and cheap: no queries per row (lookups are dicts built in `__init__`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Container, Hashable, Sequence
from typing import Any, ClassVar, NamedTuple, TypeVar

from sqlalchemy import Connection, Table

from billing.ingest.errors import RowError
from billing.ingest.fields import FieldError

T = TypeVar("T")
Record = dict[str, Any]


def read(
    values: dict[str, str], name: str, parse: Callable[[str], T], line: int, errors: list[RowError]
) -> T | None:
    """`parse(values[name])`, or None after appending the reason to `errors`."""
    try:
        return parse(values[name])
    except FieldError as exc:
        errors.append(RowError(line, name, str(exc)))
        return None


class RowAdapter(ABC):
    """One input format: its columns, how a row becomes records, how records are stored."""

    kind: ClassVar[str]
    table: ClassVar[Table]
    columns: ClassVar[tuple[str, ...]]  # required in the header (CSV) or in every object (JSONL)
    optional_columns: ClassVar[tuple[str, ...]] = ()  # may be absent; absent reads as empty
    suffixes: ClassVar[tuple[str, ...]] = (".csv",)
    # Flat formats hand `convert` a dict of strings; others (metering) get the parsed JSON value.
    flat: ClassVar[bool] = True
    # What must be unique within one file (named in duplicate errors), e.g. the natural key.
    key_labels: ClassVar[tuple[str, ...]]

    def __init__(self, conn: Connection) -> None:
        self.batch_id: int | None = None  # set by the pipeline before the load pass

    @abstractmethod
    def convert(self, line: int, values: Any, errors: list[RowError]) -> list[Record]:
        """The records of one row; append to `errors` for each bad field (records are then ignored)."""

    @abstractmethod
    def keys(self, record: Record) -> tuple[Hashable, ...]:
        """The record's keys that must be unique within a file, one per `key_labels` entry."""

    def reset(self) -> None:
        """Forget what `observe` gathered (validation starts again, e.g. after an encoding retry)."""

    def observe(self, line: int, values: Any, records: list[Record]) -> None:
        """See every row once during validation (records empty if the row is bad); default: nothing."""

    def after_validation(self, bad_lines: set[int]) -> list[RowError]:
        """Errors only visible across rows (e.g. invoice lines that disagree); default none."""
        return []

    def before_load(self, conn: Connection) -> None:
        """Work done once before the first batch is stored (e.g. invoice headers)."""

    @abstractmethod
    def load(self, conn: Connection, records: list[Record]) -> None:
        """Store one batch of records (one executemany)."""


class Column(NamedTuple):
    """How one input column becomes one record field."""

    name: str
    parse: Callable[[str], Any]
    target: str = ""  # the record key; the column name when empty


def convert_columns(
    columns: Sequence[Column], values: dict[str, str], line: int, errors: list[RowError]
) -> Record:
    """Parse every column of a row into a record. The common all-valid case runs as one dict
    comprehension; only if some field fails are the columns read one by one, so that every bad
    field of the row is reported (not just the first)."""
    try:
        return {c.target or c.name: c.parse(values[c.name]) for c in columns}
    except FieldError:
        return {c.target or c.name: read(values, c.name, c.parse, line, errors) for c in columns}


def unknown(line: int, name: str, value: str, where: str) -> RowError:
    """The error for a reference to something we do not hold (an account, product, contract)."""
    return RowError(line, name, f"unknown {name} {value!r} ({where})")


def check_product_id(
    line: int, product_id: str | None, products: Container[str], errors: list[RowError]
) -> None:
    """A partner row's marketplace `product_id` must be one of a product of the contracts."""
    if product_id is not None and product_id not in products:
        where = "no product has this marketplace_product_id in contracts"
        errors.append(unknown(line, "product_id", product_id, where))
