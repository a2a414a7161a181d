"""`triage export-cases` and `triage import-cases`: case bundles out of and into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from api import context
from billing.bundles import BundleError, BundleFileErrors, export_cases, import_cases
from billing.bundles.truth_labels import labels_from_truth

console = Console(soft_wrap=True)  # paths and error lines stay whole, to copy and grep


def export_cases_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder to write one <case>.json per exception into.")]
    = Path("cases"),
    period: Annotated[str | None, typer.Option("--period", help="Only exceptions of this period (YYYY-MM).")] = None,
    status: Annotated[str, typer.Option(
        "--status", help="Only exceptions with this status (open, triaged, in_review, resolved, closed) or 'all'.")]
    = "open",
    truth: Annotated[Path | None, typer.Option(
        "--truth", exists=True, dir_okay=False,
        help="A generated scenario's truth.jsonl: attach its labels as `expected`.")] = None,
) -> None:
    """Write a case bundle (the exception and every record needed to triage it) per exception."""
    engine = context.engine()
    labels = labels_from_truth(engine, truth) if truth is not None else None
    report = export_cases(engine, out, period=period, status=None if status == "all" else status, labels=labels)
    labelled = f", {report.labelled} with expected labels from {truth}" if truth is not None else ""
    console.print(f"wrote {len(report.files)} case bundle(s) to {out}{labelled}")


def import_cases_cmd(
    path: Annotated[Path, typer.Argument(help="A bundle .json file, a folder of them, or a .jsonl file.")],
) -> None:
    """Load case bundles into the database (all or nothing), creating their exceptions with source=import."""
    try:
        ids = import_cases(context.engine(), path)
    except BundleFileErrors as exc:
        for error in exc.errors:
            console.print(escape(str(error)), style="red", highlight=False)
        console.print(f"nothing imported: {len(exc.errors)} problem(s)")
        raise typer.Exit(code=1) from None
    except BundleError as exc:
        console.print(escape(str(exc)), style="red", highlight=False)
        console.print("nothing imported")
        raise typer.Exit(code=1) from None
    console.print(f"imported {len(ids)} case(s) from {path}")


def register(app: typer.Typer) -> None:
    """Add `export-cases` and `import-cases` to the `triage` command."""
    app.command("export-cases")(export_cases_cmd)
    app.command("import-cases")(import_cases_cmd)
