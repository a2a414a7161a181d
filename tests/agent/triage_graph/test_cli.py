"""The CLI: `triage triage`, `triage batch`, `triage review list|decide`, `triage audit`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from agent.runner import Triage, open_triage
from agent.schemas import Category
from agent.taxonomy import usual_resolution
from api import context
from api.commands import triage as triage_cmd
from billing.settings import Settings
from tests.agent.triage_graph.fakes import FakeBackend, FakeRetriever, add_exception, fake_tools

runner = CliRunner()


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    """Nothing here depends on the database kind: SQLite only (the PostgreSQL runs are elsewhere)."""
    return sqlite_engine


@pytest.fixture
def app(engine: Engine, settings: Settings, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    @contextmanager
    def opener() -> Iterator[Triage]:
        with open_triage(settings, engine=engine, backend=backend, retriever=FakeRetriever(), run_tools=fake_tools) as t:
            yield t

    monkeypatch.setattr(triage_cmd, "opener", opener)
    monkeypatch.setattr(context, "engine", lambda: engine)
    monkeypatch.setattr(triage_cmd.console, "width", 200)
    local = typer.Typer()
    triage_cmd.register(local)
    return local


def test_triage_prints_evidence_decision_draft_and_route(app: typer.Typer, engine: Engine) -> None:
    exception_id = add_exception(engine)
    result = runner.invoke(app, ["triage", str(exception_id)])
    assert result.exit_code == 0, result.output
    for text in ("evidence", "metering_gaps / metering_missing_hours", "dropped_metering#decision-steps",
                 "records: 1 item(s)", "summary: 2 item(s)",
                 "decision", usual_resolution(Category.DROPPED_METERING).action.value, "draft", "Difference: USD 250.00", "route", "auto → triaged",
                 "confidence 0.95 is at or above the threshold 0.80"):
        assert text in result.output


def test_triage_needs_one_of_id_or_bundle(app: typer.Typer) -> None:
    result = runner.invoke(app, ["triage"])
    assert result.exit_code == 1 and "give an exception id or --bundle FILE" in result.output


def test_unknown_case(app: typer.Typer) -> None:
    result = runner.invoke(app, ["triage", "999"])
    assert result.exit_code == 1 and "exception 999 does not exist" in result.output


def test_batch_workers_take_no_limit(app: typer.Typer) -> None:
    result = runner.invoke(app, ["batch", "--workers", "2", "--limit", "3"])
    assert result.exit_code == 1 and "--limit counts the cases of one process" in result.output


def test_batch_then_review_then_audit(app: typer.Typer, engine: Engine, tmp_path: Path) -> None:
    add_exception(engine, n=1)
    material = add_exception(engine, n=2, expected="50000", observed="0")
    batch = runner.invoke(app, ["batch", "--json"])
    assert batch.exit_code == 0, batch.output
    summary = json.loads(batch.output.strip().splitlines()[-1])
    assert summary["cases"] == 2 and summary["by_route"] == {"auto": 1, "human": 1}

    listed = runner.invoke(app, ["review", "list", "--json"])
    [item] = json.loads(listed.output)
    assert item["exception_id"] == material

    body = tmp_path / "body.txt"
    body.write_text("Resend the missing hours of 2026-10.", encoding="utf-8")
    decided = runner.invoke(app, ["review", "decide", str(item["id"]), "--decision", "edit", "--reviewer", "ana",
                                  "--draft-file", str(body)])
    assert decided.exit_code == 0, decided.output
    assert f"item {item['id']}: edit by ana → exception {material} is resolved" in decided.output

    again = runner.invoke(app, ["review", "decide", str(item["id"]), "--decision", "approve", "--reviewer", "bo"])
    assert again.exit_code == 1 and "not pending" in again.output

    audit = runner.invoke(app, ["audit", str(material), "--json"])
    events = [json.loads(line) for line in audit.output.strip().splitlines()]
    assert [e["event"] for e in events][-2:] == ["review_decision", "finalize"]
    assert events[-1]["payload"]["draft"]["body"] == "Resend the missing hours of 2026-10."


def test_decide_refuses_an_edit_that_does_not_check_unless_accepted(app: typer.Typer, engine: Engine,
                                                                     tmp_path: Path) -> None:
    material = add_exception(engine, n=3, expected="50000", observed="0")
    assert runner.invoke(app, ["batch", "--json"]).exit_code == 0
    [item] = json.loads(runner.invoke(app, ["review", "list", "--json"]).output)
    body = tmp_path / "body.txt"
    body.write_text("Rebill USD 5,000.00 for 2026-10.", encoding="utf-8")
    args = ["review", "decide", str(item["id"]), "--decision", "edit", "--reviewer", "ana", "--draft-file", str(body)]

    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    assert "amount 'USD 5,000.00' is not in the evidence" in refused.output and "--accept-unverified" in refused.output

    kept = runner.invoke(app, [*args, "--accept-unverified"])
    assert kept.exit_code == 0, kept.output
    assert f"exception {material} is resolved" in kept.output
    assert "kept unverified: body: amount 'USD 5,000.00' is not in the evidence" in kept.output


def test_decide_validates_before_resuming(app: typer.Typer, engine: Engine) -> None:
    result = runner.invoke(app, ["review", "decide", "1", "--decision", "reject", "--reviewer", "ana"])
    assert result.exit_code == 1 and "review item 1 does not exist" in result.output


def test_review_repair_lists_by_default_and_requeues_with_apply(app: typer.Typer, engine: Engine,
                                                                settings: Settings, backend: FakeBackend,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_exception(engine, n=1, expected="50000", observed="0")
    assert runner.invoke(app, ["batch", "--json"]).exit_code == 0
    healthy = runner.invoke(app, ["review", "repair"])
    assert healthy.exit_code == 0 and "nothing to repair" in healthy.output

    # The checkpoint store is not the one the batch wrote to: the item mirrors no interrupt.
    other = settings.model_copy(update={"checkpoint_url": f"sqlite:///{tmp_path}/other-checkpoints.db"})

    @contextmanager
    def elsewhere() -> Iterator[Triage]:
        with open_triage(other, engine=engine, backend=backend, retriever=FakeRetriever(), run_tools=fake_tools) as t:
            yield t

    monkeypatch.setattr(triage_cmd, "opener", elsewhere)
    listed = runner.invoke(app, ["review", "repair"])
    assert listed.exit_code == 0 and "listed only" in listed.output and "nothing changed" in listed.output
    assert len(json.loads(runner.invoke(app, ["review", "list", "--json"]).output)) == 1
    assert runner.invoke(app, ["review", "repair", "--rerun"]).exit_code == 1
    applied = runner.invoke(app, ["review", "repair", "--apply", "--rerun"])
    assert applied.exit_code == 0 and "requeued, re-triaged: waiting_review" in applied.output
    [item] = json.loads(runner.invoke(app, ["review", "list", "--json"]).output)  # the new item, resumable here
    assert runner.invoke(app, ["review", "repair"]).output.count("nothing to repair") == 1
