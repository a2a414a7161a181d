"""The graph with the real pieces around it: the read-only tools and the offline backend, on
the tools' small world (October 2026 of ACME and GLOBEX), and a case bundle through the CLI.

Issue 4, "Done when": a case bundle goes in and a grounded, verified decision with its draft
comes out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from agent.audit import trail_of
from agent.llm.factory import make_backend
from agent.runner import open_triage
from api import context
from api.commands import triage as triage_cmd
from billing.bundles import collect_bundle, write_bundle
from billing.db import session_factory, transaction
from billing.migrate import create_engine_and_upgrade
from billing.models import Discrepancy, TriageRun
from billing.settings import Settings
from tests.agent.triage_graph.fakes import FakeRetriever
from tests.tools.case_world import World, build_world

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def world(engine: Engine) -> World:
    with transaction(engine) as session:
        return build_world(session)


def test_real_tools_and_offline_backend(engine: Engine, world: World, settings: Settings) -> None:
    """Every figure of the offline draft is found in the tools' evidence (verify passes), the
    route carries its reasons, and the other tenant's records never enter ACME's case."""
    backend = make_backend(settings)
    with open_triage(settings, engine=engine, backend=backend, retriever=FakeRetriever()) as triage:
        outcome = triage.case(world.case_id)
    assert outcome.error is None and outcome.status in ("triaged", "waiting_review")
    assert outcome.problems == []
    assert outcome.reasons and outcome.category is not None
    with session_factory(engine)() as session:
        row = session.get(Discrepancy, world.case_id)
        assert row is not None and row.status in ("triaged", "in_review")
    draft = outcome.values["draft"]
    assert draft and world.globex_event_id not in draft["body"] and world.globex_invoice not in draft["body"]
    # Message texts reach the backend as outside text only (fenced, guarded), never as records.
    assert outcome.values["outside_text"], "the world's messages were gathered"
    with session_factory(engine)() as session:
        [tools_entry] = trail_of(session, world.case_id, event="tool_results")
    messages = tools_entry.payload["results"]["get_messages"]["messages"]
    assert messages and all("body" not in m and "subject" not in m for m in messages)


def test_bundle_in_decision_out(engine: Engine, world: World, settings: Settings, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`triage triage --bundle FILE` imports the case into another database and triages it there."""
    with session_factory(engine)() as session:
        bundle_file = write_bundle(collect_bundle(session, world.money_case_id), tmp_path / "case.json")
    other = create_engine_and_upgrade(f"sqlite:///{tmp_path}/other.db")
    other_settings = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/other.db"})

    def opener():  # type: ignore[no-untyped-def]
        return open_triage(other_settings, engine=other, backend=make_backend(other_settings),
                           retriever=FakeRetriever())

    monkeypatch.setattr(triage_cmd, "opener", opener)
    monkeypatch.setattr(context, "engine", lambda: other)
    app = typer.Typer()
    triage_cmd.register(app)
    result = CliRunner().invoke(app, ["triage", "--bundle", str(bundle_file)])
    assert result.exit_code == 0, result.output
    for text in ("evidence", "disbursed_vs_invoiced / short_disbursed", "decision", "draft", "route"):
        assert text in result.output
    with session_factory(other)() as session:
        [row] = session.query(Discrepancy).filter_by(kind="short_disbursed").all()
        assert row.status in ("triaged", "in_review") and row.source == "import"


def test_batch_workers_share_the_open_exceptions(tmp_path: Path) -> None:
    """`triage batch --workers 2`, as a person runs it: two processes with the real tools and the
    offline backend, claiming one exception at a time, triage every open exception exactly once."""
    db = tmp_path / "workers.db"
    engine = create_engine_and_upgrade(f"sqlite:///{db}")
    with transaction(engine) as session:
        build_world(session)
    with session_factory(engine)() as session:
        open_ids = set(session.scalars(select(Discrepancy.id).where(Discrepancy.status == "open")))
    env = {**os.environ, "TRIAGE_DATABASE_URL": f"sqlite:///{db}", "TRIAGE_LLM__BACKEND": "offline",
           "TRIAGE_CHECKPOINT_URL": f"sqlite:///{tmp_path}/checkpoints.db", "TRIAGE_CLAIMS__SIZE": "1",
           # The SOP index the eval tests keep in the repository's .triage folder (built once).
           "TRIAGE_KNOWLEDGE__CHROMA_PATH": str(ROOT / ".triage" / "eval-test-chroma")}
    done = subprocess.run([str(Path(sys.executable).with_name("triage")), "batch", "--workers", "2", "--json"],
                          env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["cases"] == len(open_ids) >= 2 and summary["failed"] == []
    with session_factory(engine)() as session:
        runs = Counter(session.scalars(select(TriageRun.exception_id)))
        batches = set(session.scalars(select(TriageRun.batch_id)))
        still_open = session.scalar(select(func.count()).where(Discrepancy.status == "open"))
    assert runs == Counter({i: 1 for i in open_ids}) and still_open == 0
    # Which process took which case depends on their start-up; the claims tests pin the sharing.
    assert batches <= {f"{summary['batch_id']}-w1", f"{summary['batch_id']}-w2"}
    engine.dispose()
