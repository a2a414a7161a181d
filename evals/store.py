"""Runs on disk: ``<root>/<run_id>/`` with run.json (identity + metrics), cases.jsonl, reports, plots.

A run folder is written under a temporary name and renamed when complete, so a reader never
sees half a run. `load_run` takes a run id (a folder under the root), a run folder, or its
run.json — what `triage eval --compare` accepts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from evals.identity import REPO_ROOT, RunIdentity
from evals.results import CaseResult
from evals.scoring import RunMetrics

#: Where runs go unless told otherwise.
DEFAULT_RUNS_DIR = REPO_ROOT / "evals" / "runs"
RUN_FILE = "run.json"
CASES_FILE = "cases.jsonl"
COMPARISON_FILE = "comparison.json"

if TYPE_CHECKING:
    from evals.compare import Comparison


class RunNotFound(LookupError):
    """No stored run matches the reference."""


class EvalRun(BaseModel):
    """One scored run: what identifies it, its metrics and every case."""

    model_config = ConfigDict(extra="forbid")

    identity: RunIdentity
    metrics: RunMetrics
    results: list[CaseResult]


def save_run(run: EvalRun, root: Path = DEFAULT_RUNS_DIR, *, comparison: Comparison | None = None,
             reports: bool = True) -> Path:
    """Write the run (and, unless told not to, its Markdown/HTML reports and plots, and the comparison
    with a baseline when given); return its folder."""
    from evals.report import write_reports  # plotting loads matplotlib: only when writing reports

    final = root / run.identity.run_id
    partial = root / f".{run.identity.run_id}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        header = {"identity": run.identity.model_dump(mode="json"), "metrics": run.metrics.model_dump(mode="json")}
        (partial / RUN_FILE).write_text(json.dumps(header, indent=2) + "\n", encoding="utf-8")
        with (partial / CASES_FILE).open("w", encoding="utf-8") as fh:
            for result in run.results:
                fh.write(result.model_dump_json() + "\n")
        if comparison is not None:
            (partial / COMPARISON_FILE).write_text(comparison.model_dump_json(indent=2) + "\n", encoding="utf-8")
        if reports:
            write_reports(run, partial, comparison)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def run_folder(ref: str | Path, root: Path = DEFAULT_RUNS_DIR) -> Path:
    """The folder of a run given by id, folder or run.json path."""
    path = Path(ref)
    for candidate in (path, root / str(ref)):
        if candidate.is_file() and candidate.name == RUN_FILE:
            return candidate.parent
        if (candidate / RUN_FILE).is_file():
            return candidate
    raise RunNotFound(f"no stored run {str(ref)!r}: not a run folder, a run.json, nor a run id under {root}")


def load_run(ref: str | Path, root: Path = DEFAULT_RUNS_DIR) -> EvalRun:
    """Read a stored run back (identity, metrics and cases)."""
    folder = run_folder(ref, root)
    header = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    results = []
    cases_file = folder / CASES_FILE
    if cases_file.is_file():
        for number, line in enumerate(cases_file.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    results.append(CaseResult.model_validate_json(line))
                except ValueError as exc:
                    raise ValueError(f"{cases_file}:{number}: not a case result: {exc}") from exc
    return EvalRun(identity=RunIdentity.model_validate(header["identity"]),
                   metrics=RunMetrics.model_validate(header["metrics"]), results=results)


def list_runs(root: Path = DEFAULT_RUNS_DIR) -> list[str]:
    """Stored run ids, oldest first (ids start with their UTC date)."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / RUN_FILE).is_file())
