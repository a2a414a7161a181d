"""`triage ingest KIND FILE`: counts on success; exit code 1 and every error on a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from api import context
from api.commands import ingest as ingest_command

from .conftest import FILES, SCENARIO, copy_to


@pytest.fixture
def cli(priced: Engine, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setattr(context, "engine", lambda: priced)
    app = typer.Typer()
    ingest_command.register(app)

    @app.callback()
    def root() -> None:
        """Keep `ingest` a named sub-command, as in the real `triage` app."""

    return app


def test_success_prints_the_counts(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["ingest", "usage", str(SCENARIO / "usage.csv")])
    assert result.exit_code == 0, result.output
    assert "rows read:     6" in result.output and "rows loaded:   6" in result.output
    assert "rows rejected: 0" in result.output
    again = CliRunner().invoke(cli, ["ingest", "usage", str(SCENARIO / "usage.csv")])
    assert again.exit_code == 0 and "already loaded" in again.output


def test_a_bad_file_exits_1_with_every_error(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["ingest", "usage", str(FILES / "usage_wrong_types.csv")])
    assert result.exit_code == 1
    assert (
        "usage_wrong_types.csv (usage): 6 error(s) in 6 row(s) of 6; nothing was loaded"
        in result.output
    )
    assert "line 4, quantity: '1e3' is in scientific notation" in result.output
    assert "line 7, quantity" in result.output


def test_skip_bad_rows_with_a_rejects_path(cli: typer.Typer, tmp_path: Path) -> None:
    source = copy_to(tmp_path, "usage_negative_quantity.csv")
    rejects = tmp_path / "bad.csv"
    result = CliRunner().invoke(
        cli, ["ingest", "usage", str(source), "--skip-bad-rows", "--rejects", str(rejects)]
    )
    assert result.exit_code == 0, result.output
    assert "rows loaded:   1" in result.output and "rows rejected: 1" in result.output
    assert f"rejects:       {rejects}" in result.output and rejects.is_file()


def test_unknown_kind_is_a_usage_error(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["ingest", "usages", str(SCENARIO / "usage.csv")])
    assert result.exit_code == 2 and "unknown kind 'usages'" in result.output


def test_rejects_without_skip_is_a_usage_error(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["ingest", "usage", str(SCENARIO / "usage.csv"), "--rejects", str(tmp_path / "r.csv")]
    )
    assert result.exit_code == 2 and "--skip-bad-rows" in result.output
