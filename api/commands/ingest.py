"""`triage ingest KIND FILE`: validate a file as a whole and load it, or list every bad row."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import context
from billing.ingest import KINDS, IngestError, ingest_file


def ingest(
    kind: Annotated[str, typer.Argument(help=f"What the file holds: {', '.join(KINDS)}.")],
    file: Annotated[Path, typer.Argument(help="The file to load (see docs/formats/<kind>.md).")],
    skip_bad_rows: Annotated[
        bool,
        typer.Option(
            "--skip-bad-rows",
            help="Load the good rows and write the bad ones, with reasons, to a rejects file.",
        ),
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects", help="Where the rejects go (default: <file>.rejects.csv beside the input)."
        ),
    ] = None,
) -> None:
    """Load FILE as KIND. A file with any bad row loads nothing and exits 1 with every error."""
    if kind not in KINDS:
        typer.echo(f"unknown kind {kind!r}; known: {', '.join(KINDS)}", err=True)
        raise typer.Exit(2)
    if rejects is not None and not skip_bad_rows:
        typer.echo(
            "--rejects only applies with --skip-bad-rows (without it a bad file loads nothing)",
            err=True,
        )
        raise typer.Exit(2)
    try:
        report = ingest_file(
            context.engine(), kind, file, skip_bad_rows=skip_bad_rows, rejects_path=rejects
        )
    except IngestError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if report.already_loaded:
        typer.echo(report.summary())
        return
    typer.echo(f"rows read:     {report.rows_read}")
    typer.echo(f"rows loaded:   {report.rows_loaded}")
    typer.echo(f"rows rejected: {report.rows_rejected}")
    typer.echo(f"new records:   {report.records_new}")
    if report.rejects_path is not None:
        typer.echo(f"rejects:       {report.rejects_path}")


def register(app: typer.Typer) -> None:
    """Add `ingest` to the `triage` command."""
    app.command("ingest")(ingest)
