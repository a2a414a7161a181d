"""Interrupt → resume in a NEW process, after the first one closed everything (issue 4, items
7 and 11): with the SQLite checkpointer on SQLite, and with the PostgreSQL checkpointer on
the real PostgreSQL server (``TRIAGE_TEST_POSTGRES_URL``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from agent.review_queue import ReviewDecision
from billing.db import session_factory
from billing.models import Discrepancy, TriageRun
from tests.agent.triage_graph.conftest import TriageFactory
from tests.agent.triage_graph.fakes import add_exception

CHILD = Path(__file__).with_name("resume_child.py")


@pytest.fixture
def urls(engine: Engine, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The database URL, and a checkpoint URL on the same kind of server: for PostgreSQL, a
    schema of this test's own (LangGraph's tables are not ours; they must not sit among ours)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        yield url, f"sqlite:///{tmp_path}/checkpoints.db"
        return
    schema = f"cp_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = url.split("?", 1)[0]
    yield url, f"{base}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _resume_elsewhere(db_url: str, checkpoint_url: str, item_id: int, decision: ReviewDecision) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(CHILD), db_url, checkpoint_url, str(item_id), decision.model_dump_json()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_resume_in_a_new_process(engine: Engine, make_triage: TriageFactory, urls: tuple[str, str]) -> None:
    db_url, checkpoint_url = urls
    triage = make_triage(checkpoint_url=checkpoint_url)
    exception_id = add_exception(engine, expected="30000.00", observed="1000.00")
    stopped = triage.case(exception_id)
    assert stopped.status == "waiting_review" and stopped.review_item_id is not None

    # A reclassification, resumed elsewhere, runs the graph on and stops at a second review.
    child = _resume_elsewhere(db_url, checkpoint_url, stopped.review_item_id,
                              ReviewDecision(decision="reclassify", reviewer="ana", category="wrong_dimension"))
    assert child["pid"] != os.getpid()
    assert (child["status"], child["category"]) == ("waiting_review", "wrong_dimension")
    # Redrafting is the backend's job; classifying is not (the person chose the category).
    assert child["backend_calls"] == [f"draft:{exception_id}"]

    final = _resume_elsewhere(db_url, checkpoint_url, child["review_item_id"],
                              ReviewDecision(decision="approve", reviewer="ana"))
    assert final["status"] == "resolved" and final["backend_calls"] == []
    with session_factory(engine)() as session:
        row = session.get(Discrepancy, exception_id)
        run = session.query(TriageRun).filter_by(thread_id=stopped.thread_id).one()
        assert row is not None and row.status == "resolved"
        assert (run.status, run.outcome, run.category) == ("done", "resolved", "wrong_dimension")
