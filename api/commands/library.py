"""`triage library build`: the offline backend's case library and calibration."""

from __future__ import annotations

import typer

library_app = typer.Typer(help="The offline backend's labelled case library.", no_args_is_help=True)


@library_app.command("build")
def build_cmd(
    accounts: int = typer.Option(30, help="Accounts per reserved scenario."),
    months: int = typer.Option(2, help="Months per reserved scenario."),
) -> None:
    """Rebuild the case library from the reserved seeds and refit the confidence calibration."""
    from agent.llm.offline.build import build_library

    figures = build_library(accounts=accounts, months=months, progress=typer.echo)
    typer.echo(figures)


def register(app: typer.Typer) -> None:
    app.add_typer(library_app, name="library")
