"""Bad parameters are refused before anything is written; a failure while writing leaves the folder as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from billing.scenarios import generate_scenario
from billing.scenarios import scenario as scenario_module


@pytest.mark.parametrize(
    ("accounts", "months", "start", "rate"),
    [
        (0, 1, "2026-10", 0.5),
        (5, 0, "2026-10", 0.5),
        (5, 1, "10/2026", 0.5),
        (5, 1, "2026-10", 1.5),
    ],
)
def test_bad_parameters_are_refused(
    tmp_path: Path, accounts: int, months: int, start: str, rate: float
) -> None:
    with pytest.raises(ValidationError):
        generate_scenario(1, accounts, months, start, tmp_path / "out", fault_rate=rate)
    assert not (tmp_path / "out").exists()


def test_a_failure_while_writing_leaves_the_old_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    generate_scenario(1, 6, 1, "2026-10", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*_: object, **__: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(scenario_module, "write_truth", broken)
    with pytest.raises(OSError, match="disk full"):
        generate_scenario(2, 6, 1, "2026-10", out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
