"""Fixtures for the ingest tests: the committed input files and a database holding the price book."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, func, select

from billing.ingest import ingest_file

FILES = Path(__file__).resolve().parent / "files"
SCENARIO = FILES / "scenario"


def rows_in(engine: Engine, table: Table) -> int:
    """How many rows `table` holds."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def copy_to(tmp_path: Path, name: str, source: Path = FILES) -> Path:
    """A private copy of a fixture file (rejects files are written beside their input)."""
    target = tmp_path / Path(name).name
    shutil.copy(source / name, target)
    return target


@pytest.fixture
def priced(engine: Engine) -> Engine:
    """`engine` with the scenario's contracts document (accounts, products, contracts) loaded."""
    ingest_file(engine, "contracts", SCENARIO / "contracts.yaml")
    return engine
