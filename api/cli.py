"""The `triage` command: every CLI surface of the product, one module per command group."""

from __future__ import annotations

import typer

from api.commands import db

app = typer.Typer(
    help="Billing discrepancy triage for cloud-marketplace billing operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

for module in (db,):
    module.register(app)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
