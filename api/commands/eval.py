"""`triage eval`: score a backend on a labelled case set, store the run, compare, gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from evals.compare import Comparison
    from evals.store import EvalRun

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        errors.print(escape(line), style="red", highlight=False)
    return typer.Exit(code=1)


def _print_run(run: EvalRun, folder: Path, comparison: Comparison | None) -> None:
    m = run.metrics
    table = Table(title=f"{run.identity.backend} · {run.identity.model} · {m.cases} cases")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if comparison is not None:
        table.add_column(f"Δ vs {comparison.baseline_run_id}", justify="right")
    deltas = {d.name: d for d in comparison.deltas} if comparison is not None else {}
    for key, value in m.headline().items():
        row = [key, "—" if value is None else str(value)]
        if comparison is not None:
            d = deltas[key]
            row.append("—" if d.delta is None else f"{d.delta:+.4g} ({d.verdict})")
        table.add_row(*row)
    console.print(table)
    console.print(f"threshold recommendation: {m.threshold.note}")
    if comparison is not None:
        for title, flips in (("now right", comparison.fixed), ("now wrong", comparison.broken)):
            console.print(f"{title}: {len(flips)}")
            for f in flips:
                console.print(f"  {f.case_id}  {f.what}: expected {f.expected}, {f.baseline} → {f.current}",
                              highlight=False)
    console.print(f"run stored in {folder} (report.md, report.html)")


def eval_cmd(
    cases: Annotated[Path, typer.Option("--cases", help="A case bundle file, a folder of them, or JSONL (.gz too).")],
    backend: Annotated[Literal["offline", "openai"], typer.Option("--backend", help="Which backend triages.")]
    = "offline",
    model: Annotated[str | None, typer.Option("--model", help="Model name for the openai backend.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder of runs (default: evals/runs).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")] = False,
    compare: Annotated[str | None, typer.Option(
        "--compare", help="A stored run to compare with: its run id (under --out), folder or run.json.")] = None,
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", min=1, help="Cases at once (default: 1 offline, 4 openai).")] = None,
    gate: Annotated[str | None, typer.Option(
        "--gate", help="Check the thresholds of this set in evals/thresholds.yaml (e.g. curated); exit 1 if missed.")]
    = None,
) -> None:
    """Run every case through the real triage graph in a fresh database and score it against its labels."""
    from billing.bundles import BundleFileErrors
    from evals.case_set import CaseSetError, load_case_set
    from evals.compare import compare_runs
    from evals.gate import ThresholdsError, check_thresholds, load_thresholds
    from evals.leakage import LeakageError
    from evals.manifest import ManifestError
    from evals.runner import EvalConfigError, run_eval
    from evals.store import DEFAULT_RUNS_DIR, RunNotFound, load_run, save_run

    root = out or DEFAULT_RUNS_DIR
    try:
        baseline = load_run(compare, root) if compare else None
        thresholds = load_thresholds()[gate] if gate else None
    except (RunNotFound, ThresholdsError, ValueError) as exc:
        raise _fail([str(exc)]) from None
    except KeyError:
        raise _fail([f"--gate {gate}: no such set in evals/thresholds.yaml"]) from None

    try:
        case_set = load_case_set(cases)
        with Progress(TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=errors, transient=True) as bar:
            task = bar.add_task("eval", total=len(case_set.cases))
            run = run_eval(case_set, backend=backend, model=model, concurrency=concurrency,
                           progress=lambda _result: bar.advance(task))
    except BundleFileErrors as exc:
        raise _fail([*(str(e) for e in exc.errors), f"nothing scored: {len(exc.errors)} problem(s)"]) from None
    except (CaseSetError, LeakageError, ManifestError, EvalConfigError) as exc:
        raise _fail([*str(exc).splitlines(), "nothing scored"]) from None

    comparison = compare_runs(baseline, run) if baseline is not None else None
    folder = save_run(run, root, comparison=comparison)
    failures = check_thresholds(run.metrics.headline(), thresholds) if thresholds is not None else []

    if as_json:
        summary: dict[str, Any] = {
            "run_id": run.identity.run_id, "run_dir": str(folder), "backend": run.identity.backend,
            "model": run.identity.model, "case_set_hash": run.identity.case_set_hash,
            **run.metrics.headline(), "recommended_threshold": run.metrics.threshold.threshold,
        }
        if comparison is not None:
            summary["compare"] = comparison.summary()
        if thresholds is not None:
            summary["gate"] = {"set": gate, "passed": not failures, "failures": [str(f) for f in failures]}
        print(json.dumps(summary, ensure_ascii=False))
    else:
        _print_run(run, folder, comparison)
        if thresholds is not None:
            console.print(f"gate {gate}: " + ("passed" if not failures else "FAILED"))
            for failure in failures:
                console.print(f"  {failure}", highlight=False)
    if failures:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add `eval` to the `triage` command."""
    app.command("eval")(eval_cmd)
