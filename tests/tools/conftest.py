"""Fixtures of the tool tests: a small world of two accounts, read-only tool contexts.

The repository root goes first on sys.path: without it, pytest's rootdir-relative import
of this folder (`tests/tools`, no __init__) makes `import tools` find this test folder as a
namespace package instead of the real `tools` package.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
if getattr(sys.modules.get("tools"), "__file__", "") is None:  # a namespace `tools` picked up earlier
    del sys.modules["tools"]

from datetime import date

import pytest
from sqlalchemy import Engine, select

from billing.db import transaction
from billing.ingest.folder import ingest_folder
from billing.models import Discrepancy
from billing.reconcile.run import reconcile
from billing.scenarios import generate_scenario
from tests.tools.case_world import World, build_world


def reconciled_scenario(engine: Engine, out: Path, *, seed: int) -> list[int]:
    """A generated two-month scenario (faults everywhere) ingested and reconciled into
    `engine`; the exceptions' ids."""
    generate_scenario(seed=seed, accounts=8, months=2, start="2026-09", out=out, fault_rate=0.9)
    ingest_folder(engine, out)
    reconcile(engine, as_of=date(2027, 3, 1))
    with transaction(engine) as session:
        return list(session.scalars(select(Discrepancy.id).order_by(Discrepancy.id)))


@pytest.fixture
def world(engine: Engine) -> World:
    """Two accounts' October 2026 (ACME with every kind of record, GLOBEX as the other tenant)."""
    with transaction(engine) as session:
        return build_world(session)


@pytest.fixture
def sqlite_world(sqlite_engine: Engine) -> World:
    """The same world on SQLite only, for tests about argument handling rather than SQL."""
    with transaction(sqlite_engine) as session:
        return build_world(session)
