"""The `triage` command: every CLI surface of the product, one module per command group."""

from __future__ import annotations

import typer

from api import cli_kb
from api.commands import cases, db, demo, eval, generate, ingest, library, reconcile, triage

app = typer.Typer(
    help="Billing discrepancy triage for cloud-marketplace billing operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

for module in (demo, db, generate, ingest, reconcile, cases, triage, library, eval):
    module.register(app)
app.add_typer(cli_kb.app, name="kb")


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
