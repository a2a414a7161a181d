"""SQL expressions the rules need that SQLite and PostgreSQL spell differently.

SQLite keeps timestamps as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` text (UTC, see
`billing.models.base.UTCDateTime`) and dates as ``YYYY-MM-DD``, so a prefix of the text is
the day or the month. PostgreSQL keeps ``timestamptz``; the day is taken in UTC, never in
the session's time zone, because AWS cuts days and months at 00:00 UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Date, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.functions import FunctionElement, GenericFunction

T = TypeVar("T")
F = TypeVar("F", bound=type[FunctionElement[Any]])
# How a dialect spells a function: a template where `{}` is the compiled argument, or a function
# of (element, compiled argument) when the spelling depends on the argument's type.
Spelling = str | Callable[[Any, str], str]


def spelled(*, sqlite: Spelling, postgresql: Spelling) -> Callable[[F], F]:
    """Class decorator: compile a SQL function element the way each database spells it."""

    def register(cls: F) -> F:
        for name, spelling in (("sqlite", sqlite), ("postgresql", postgresql)):

            def compile_(
                element: Any, compiler: SQLCompiler, _spelling: Spelling = spelling, **kw: Any
            ) -> str:
                inner = compiler.process(element.clauses, **kw)
                if isinstance(_spelling, str):
                    return _spelling.format(inner)
                return _spelling(element, inner)

            compiles(cls, name)(compile_)
        return cls

    return register


@spelled(sqlite="substr({}, 1, 10)", postgresql="CAST(({}) AT TIME ZONE 'UTC' AS DATE)")
class utc_day(FunctionElement[Any]):
    """The UTC calendar day of a timestamp column, as a DATE."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


def _month_pg(element: Any, inner: str) -> str:
    (column,) = element.clauses
    timezone = getattr(column.type, "timezone", False)
    # Dates have no time zone; timestamptz must be shifted to UTC before formatting.
    source = f"({inner}) AT TIME ZONE 'UTC'" if timezone else inner
    return f"to_char({source}, 'YYYY-MM')"


@spelled(sqlite="substr({}, 1, 7)", postgresql=_month_pg)
class month_of(FunctionElement[Any]):
    """``YYYY-MM`` of a timestamp (taken in UTC) or date column."""

    type = String()
    inherit_cache = True
    name = "month_of"


@spelled(sqlite="group_concat({}, ',')", postgresql="string_agg(CAST({} AS TEXT), ',')")
class id_list(GenericFunction[str]):
    """Aggregate: the group's values as one comma-separated text (split with `split_ids`)."""

    type = String()
    inherit_cache = True
    name = "id_list"


def split_ids(text: str | None, limit: int) -> list[str]:
    """The distinct ids of an `id_list` value, sorted, at most `limit` of them."""
    if not text:
        return []
    ids = sorted(set(text.split(",")), key=lambda v: (len(v), v))
    return ids[:limit]


def count_ids(text: str | None) -> int:
    """How many distinct ids an `id_list` value holds."""
    return len(set(text.split(","))) if text else 0


def rounded_gap(left: ColumnElement[Any], right: ColumnElement[Any], places: int = 6) -> ColumnElement[Any]:
    """|left − right| rounded, so float sums on SQLite do not raise 1e-12 differences."""
    from sqlalchemy import func

    return func.round(func.abs(left - right), places)


def batches(items: list[T], size: int = 1000) -> Iterator[list[T]]:
    """`items` in slices of `size`: keeps row-value IN lists under the databases' bound-parameter limits."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
