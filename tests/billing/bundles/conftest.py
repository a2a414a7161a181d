"""Fixtures of the bundle tests (the world of two accounts shared with the tool tests)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:  # so `tests.tools.case_world` and `tools` resolve to the repository's files
    sys.path.insert(0, ROOT)

import pytest
from sqlalchemy import Engine

from billing.db import transaction
from tests.tools.case_world import World, build_world


@pytest.fixture
def world(engine: Engine) -> World:
    """Two accounts' October 2026 (ACME with every kind of record, GLOBEX as the other tenant)."""
    with transaction(engine) as session:
        return build_world(session)
