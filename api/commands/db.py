"""`triage db ...`: schema management."""

from __future__ import annotations

import typer

from api import context
from billing.migrate import upgrade

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the configured database to REVISION (default: the latest)."""
    url = context.settings().database_url
    upgrade(url, revision)
    typer.echo(f"database at {url} is at {revision}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
