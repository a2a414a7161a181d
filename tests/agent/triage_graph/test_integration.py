"""The graph with the real pieces around it: the read-only tools and the offline backend, on
the tools' small world (October 2026 of ACME and GLOBEX), and a case bundle through the CLI.

Issue 4, "Done when": a case bundle goes in and a grounded, verified decision with its draft
comes out."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from agent.audit import trail_of
from agent.llm.factory import make_backend
from agent.runner import open_triage
from api import context
from api.commands import triage as triage_cmd
from billing.bundles import collect_bundle, write_bundle
from billing.db import session_factory, transaction
from billing.migrate import create_engine_and_upgrade
from billing.models import Discrepancy
from billing.settings import Settings
from tests.agent.triage_graph.fakes import FakeRetriever
from tests.tools.case_world import World, build_world


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
