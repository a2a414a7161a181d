"""Fixtures of the eval tests, and the gate's figures printed in pytest's terminal summary.

`fixtures/cases/` holds three labelled bundles exported with ``triage export-cases --truth``
from the scenario of seed 7001 (20 accounts, 2 months from 2026-07; not a library seed):
a direct short payment (route auto), unapplied cash of USD 23,141.86 (category other, route
human: above materiality) and a charge AWS forgave (route auto).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.evals.fakes` must resolve to this repository's files
    sys.path.insert(0, str(ROOT))

import pytest

from billing.settings import KnowledgeSettings, Settings
from tests.evals.gate_summary import gate_lines

FIXTURE_CASES = Path(__file__).resolve().parent / "fixtures" / "cases"


@pytest.fixture
def fixture_cases() -> Path:
    return FIXTURE_CASES


@pytest.fixture(scope="session")
def eval_index_settings() -> Settings:
    """Settings whose SOP index lives in `.triage/eval-test-chroma` of the repository: built once
    (incrementally updated after that), so repeated test runs do not embed the corpus again."""
    return Settings(knowledge=KnowledgeSettings(chroma_path=ROOT / ".triage" / "eval-test-chroma"),
                    database_url="sqlite://", checkpoint_url="memory://")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    """The gate's figures at the end of the run, passed or failed."""
    lines = gate_lines(config)
    if lines:
        terminalreporter.section("eval gate: offline backend")
        for line in lines:
            terminalreporter.write_line(line)
