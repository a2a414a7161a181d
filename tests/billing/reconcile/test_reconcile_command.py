"""`triage reconcile`: the table per rule and the open-exceptions summary."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from api.commands import reconcile as command
from billing.db import transaction

from .factories import aws_month


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, so `reconcile` is a sub-command as in the real CLI
        """Test CLI."""

    command.register(app)
    return app


@pytest.fixture
def cli_engine(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr(command.context, "engine", lambda: sqlite_engine)
    return sqlite_engine


def test_prints_counts_per_rule_and_open_exceptions(cli_engine: Engine) -> None:
    with transaction(cli_engine) as s:
        aws_month(s)  # usage, never invoiced: `not_invoiced` once November's grace has passed
    result = CliRunner().invoke(_app(), ["reconcile", "--period", "2026-10", "--as-of", "2027-01-15"])
    assert result.exit_code == 0, result.output
    assert "usage_without_invoice" in result.output and "not_invoiced" in result.output
    assert "USD 0.50" in result.output
    again = CliRunner().invoke(_app(), ["reconcile", "-p", "2026-10", "-r", "usage_without_invoice",
                                        "--as-of", "2027-01-15"])
    assert again.exit_code == 0 and "1 open exception(s)." in again.output


def test_bad_period_and_unknown_rule_are_usage_errors(cli_engine: Engine) -> None:
    bad = CliRunner().invoke(_app(), ["reconcile", "--period", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    unknown = CliRunner().invoke(_app(), ["reconcile", "--period", "2026-10", "--rule", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output
