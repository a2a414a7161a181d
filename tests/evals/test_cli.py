"""`triage eval` through the CLI (a local Typer app the command registers into), with the spy backend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import evals.runner
from api.commands import eval as eval_command
from evals.case_set import load_case_set
from evals.manifest import CaseSetManifest, write_manifest
from tests.evals.fakes import SpyBackend, no_passages

HEADLINE_KEYS = {"cases", "accuracy", "macro_f1", "must_see_recall", "auto_rate", "ece", "invented_numbers",
                 "llm_calls_per_case"}


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setattr(evals.runner, "make_backend", lambda settings: SpyBackend())
    monkeypatch.setattr(evals.runner, "sop_retriever", lambda settings: no_passages)
    app = typer.Typer()
    eval_command.register(app)

    @app.callback()
    def main() -> None:
        """Triage."""

    return app


def invoke(app: typer.Typer, *args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["eval", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_json_prints_one_object_as_the_last_line_and_stores_the_run(app: typer.Typer, fixture_cases: Path,
                                                                   tmp_path: Path) -> None:
    code, out, _ = invoke(app, "--cases", fixture_cases, "--out", tmp_path, "--json")
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert HEADLINE_KEYS <= set(summary)
    assert (summary["cases"], summary["accuracy"]) == (3, pytest.approx(2 / 3, abs=1e-4))
    assert (Path(summary["run_dir"]) / "report.html").is_file()
    assert Path(summary["run_dir"]).parent == tmp_path


def test_compare_with_a_stored_run_shows_deltas(app: typer.Typer, fixture_cases: Path, tmp_path: Path) -> None:
    _, out, _ = invoke(app, "--cases", fixture_cases, "--out", tmp_path, "--json")
    first = json.loads(out.strip().splitlines()[-1])["run_id"]
    code, out, _ = invoke(app, "--cases", fixture_cases, "--out", tmp_path, "--json", "--compare", first)
    assert code == 0
    compared = json.loads(out.strip().splitlines()[-1])["compare"]
    assert compared["baseline"] == first and compared["same_case_set"]
    assert compared["deltas"]["accuracy"] == 0 and (compared["fixed"], compared["broken"]) == (0, 0)
    code, out, _ = invoke(app, "--cases", fixture_cases, "--out", tmp_path, "--compare", first)
    assert code == 0 and f"Δ vs {first}" in out and "now wrong: 0" in out


def test_a_missing_baseline_is_an_error_before_anything_runs(app: typer.Typer, fixture_cases: Path,
                                                             tmp_path: Path) -> None:
    code, _, err = invoke(app, "--cases", fixture_cases, "--out", tmp_path, "--compare", "no-such-run")
    assert code == 1 and "no stored run 'no-such-run'" in err
    assert not list(tmp_path.iterdir())


def test_a_leaking_set_fails_with_the_reason(app: typer.Typer, fixture_cases: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    shutil.copytree(fixture_cases, cases)
    write_manifest(cases / "manifest.json", CaseSetManifest(
        generator_version="1", seeds=[9002], accounts=20, months=2, start="2026-07", fault_rate=0.5,
        per_category_cap=16, cases=3, case_set_hash=load_case_set(cases).hash, by_category={}, files=[]))
    code, _, err = invoke(app, "--cases", cases, "--out", tmp_path / "runs")
    assert code == 1 and "seeds [9002]" in err and "nothing scored" in err
    assert not (tmp_path / "runs").exists()


def test_the_gate_fails_the_command_below_a_threshold(app: typer.Typer, fixture_cases: Path, tmp_path: Path) -> None:
    """The spy is right on 2 of 3 cases: below the generated set's accuracy bar of 0.95."""
    code, out, _ = invoke(app, "--cases", fixture_cases, "--out", tmp_path, "--json", "--gate", "generated")
    gate = json.loads(out.strip().splitlines()[-1])["gate"]
    assert code == 1 and gate["passed"] is False
    assert gate["failures"] == ["accuracy 0.6667 < 0.95 (off by 0.2833)"]
    code, _, err = invoke(app, "--cases", fixture_cases, "--out", tmp_path, "--gate", "nonsense")
    assert code == 1 and "no such set" in err
