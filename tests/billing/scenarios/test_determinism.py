"""Same seed and parameters → byte-identical files; the generator never uses global randomness."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from billing.scenarios import generate_scenario
from billing.scenarios.scenario import FILES


def digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    random.seed(1)  # global state must not leak into the scenario...
    generate_scenario(3, 14, 2, "2026-11", tmp_path / "a", fault_rate=0.5)
    random.seed(999)  # ...so a different global seed changes nothing
    generate_scenario(3, 14, 2, "2026-11", tmp_path / "b", fault_rate=0.5)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")


def test_another_seed_gives_another_scenario(tmp_path: Path) -> None:
    generate_scenario(3, 14, 1, "2026-11", tmp_path / "a")
    generate_scenario(4, 14, 1, "2026-11", tmp_path / "b")
    a, b = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert a["usage.csv"] != b["usage.csv"]
    assert a["truth.jsonl"] != b["truth.jsonl"]


def test_our_usage_does_not_depend_on_the_fault_rate(tmp_path: Path) -> None:
    """Faults change the partner's side and the money, never what we metered: the baseline stays put."""
    generate_scenario(8, 12, 1, "2026-10", tmp_path / "clean", fault_rate=0.0)
    generate_scenario(8, 12, 1, "2026-10", tmp_path / "faulty", fault_rate=1.0)
    clean, faulty = digests(tmp_path / "clean"), digests(tmp_path / "faulty")
    assert clean["usage.csv"] == faulty["usage.csv"]
    assert clean["partner-usage.csv"] != faulty["partner-usage.csv"]
    assert (tmp_path / "clean" / "truth.jsonl").read_text() == ""
