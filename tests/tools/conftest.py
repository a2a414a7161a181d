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

import pytest
from sqlalchemy import Engine

from billing.db import transaction
from tests.tools.case_world import World, build_world


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
