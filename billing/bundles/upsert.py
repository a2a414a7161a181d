"""Insert-or-update of ORM rows by natural key, in one query per table (not one per row)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from billing.models import Base

M = TypeVar("M", bound=Base)


class BundleLoadError(ValueError):
    """A bundle that contradicts itself or the database; `path` is the JSON path of the culprit."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def upsert(session: Session, model: type[M], key_columns: Sequence[str],
           rows: Sequence[tuple[str, dict[str, Any]]], *, update: bool = True) -> dict[Hashable, M]:
    """Insert or update `rows` (each: its JSON path, its column values) keyed on `key_columns`.

    Returns every row by key. Two rows of the bundle with the same key are an error naming
    both paths. With `update=False` existing rows are left as they are (insert-if-absent)."""
    by_key: dict[Hashable, tuple[str, dict[str, Any]]] = {}
    for path, values in rows:
        key = _key(values, key_columns)
        if key in by_key:
            raise BundleLoadError(path, f"duplicate {model.__tablename__} key {key!r} (first at {by_key[key][0]})")
        by_key[key] = (path, values)
    if not by_key:
        return {}
    existing = {_key_of(obj, key_columns): obj for obj in _existing(session, model, key_columns, list(by_key))}
    result: dict[Hashable, M] = {}
    for key, (_, values) in by_key.items():
        obj = existing.get(key)
        if obj is None:
            obj = model(**values)
            session.add(obj)
        elif update:
            for name, value in values.items():
                if getattr(obj, name) != value:
                    setattr(obj, name, value)
        result[key] = obj
    session.flush()
    return result


def _key(values: dict[str, Any], key_columns: Sequence[str]) -> Hashable:
    return values[key_columns[0]] if len(key_columns) == 1 else tuple(values[c] for c in key_columns)


def _key_of(obj: Any, key_columns: Sequence[str]) -> Hashable:
    return getattr(obj, key_columns[0]) if len(key_columns) == 1 else tuple(getattr(obj, c) for c in key_columns)


def _existing(session: Session, model: type[M], key_columns: Sequence[str], keys: list[Hashable]) -> list[M]:
    found: list[M] = []
    # Chunks keep the number of bound parameters under every driver's limit.
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        if len(key_columns) == 1:
            condition = getattr(model, key_columns[0]).in_(chunk)
        else:
            condition = tuple_(*(getattr(model, c) for c in key_columns)).in_(chunk)
        found.extend(session.scalars(select(model).where(condition)))
    return found


def index_by(items: Sequence[Any], key: Callable[[Any], Hashable]) -> dict[Hashable, Any]:
    """Items by key (the last one wins)."""
    return {key(item): item for item in items}
