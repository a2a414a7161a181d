"""`triage generate` on a local Typer app (the command module registers itself)."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from api.commands import generate


def app() -> typer.Typer:
    root = typer.Typer()
    generate.register(root)

    @root.callback()
    def _root() -> None:  # a callback keeps `generate` a subcommand
        """Test root."""

    return root


def test_generate_writes_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        app(),
        [
            "generate",
            "--seed",
            "2",
            "--accounts",
            "8",
            "--months",
            "1",
            "--start",
            "2026-10",
            "--out",
            str(out),
            "--fault-rate",
            "0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "truth.jsonl").is_file() and (out / "usage.csv").is_file()
    assert "faults in 2026-10" in result.output


def test_a_bad_month_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "bad"
    result = CliRunner().invoke(app(), ["generate", "--start", "2026-13", "--out", str(out)])
    assert result.exit_code == 2
    assert "2026-13" in result.output
    assert not out.exists()
