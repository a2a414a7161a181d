"""`triage kb …` (api/cli_kb.py): settings read once, passed on explicitly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import knowledge.eval as kb_eval
from api.cli_kb import app
from billing.settings import get_settings

runner = CliRunner()


@pytest.fixture
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_sop):  # type: ignore[no-untyped-def]
    folder = tmp_path / "sops"
    make_sop(folder, "alpha", "## Symptoms\n\nThe payout bounced: DISBURSEMENT_FAILURE.",
             categories="disbursement_failure")
    make_sop(folder, "beta", "## Symptoms\n\nUsage hours missing from the feed.")
    monkeypatch.setenv("TRIAGE_KNOWLEDGE__SOP_DIRS", json.dumps([str(folder)]))
    monkeypatch.setenv("TRIAGE_KNOWLEDGE__CHROMA_PATH", str(tmp_path / "chroma"))
    monkeypatch.setenv("TRIAGE_KNOWLEDGE__COLLECTION", "cli_test")
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def test_index_search_eval(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["index"])
    assert result.exit_code == 0, result.output
    assert "2 SOPs, 2 sections" in result.output and "2 added" in result.output
    assert "2 unchanged" in runner.invoke(app, ["index"]).output

    result = runner.invoke(app, ["search", "DISBURSEMENT_FAILURE", "-k", "1"])
    assert result.exit_code == 0 and "alpha" in result.output and "§ Symptoms" in result.output
    result = runner.invoke(app, ["search", "hours", "--category", "dropped_metering"])
    assert "beta" in result.output and "alpha" not in result.output
    result = runner.invoke(app, ["search", "x", "--channel", "amazon"])
    assert result.exit_code != 0 and "unknown channel" in result.output

    queries = [kb_eval.EvalQuery(q="payout bounced", relevant=["alpha#symptoms"])]
    monkeypatch.setattr(kb_eval, "load_queries", lambda sets=None: queries)
    result = runner.invoke(app, ["eval", "--json"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert {"recall@1", "recall@3", "mrr", "p50_ms", "p95_ms"} <= set(last)
    assert {"p50_cpu_ms", "p95_cpu_ms"} <= set(last)
    assert last["recall@1"] == 1.0
    assert "vector" in result.output and "keyword" in result.output


def test_bad_sop_is_reported_with_its_file(settings_env: Path) -> None:
    (settings_env / "broken.md").write_text("---\nid: broken\n", encoding="utf-8")
    result = runner.invoke(app, ["index"])
    assert result.exit_code == 1
    assert "broken.md" in result.output and "front matter" in result.output


def test_search_on_empty_index_says_so(settings_env: Path) -> None:
    result = runner.invoke(app, ["search", "anything"])
    assert result.exit_code == 1 and "triage kb index" in result.output
