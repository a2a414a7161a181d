"""Scenarios generated once per test session (generation is deterministic, so sharing is safe)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from billing.scenarios import ScenarioSummary, generate_scenario


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def rich_scenario(tmp_path_factory: pytest.TempPathFactory) -> ScenarioSummary:
    """Every fault scheme placed: 60 customers, two months, one fault per contract-month."""
    return generate_scenario(21, 60, 2, "2026-09", tmp_path_factory.mktemp("rich"), fault_rate=1.0)


@pytest.fixture(scope="session")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> ScenarioSummary:
    """Small enough to ingest and reconcile on both databases in a few seconds."""
    return generate_scenario(5, 18, 2, "2026-09", tmp_path_factory.mktemp("small"), fault_rate=0.6)


@pytest.fixture(scope="session")
def calm_scenario(tmp_path_factory: pytest.TempPathFactory) -> ScenarioSummary:
    """Few faults, so most records show the normal flow of money."""
    return generate_scenario(13, 40, 1, "2026-10", tmp_path_factory.mktemp("calm"), fault_rate=0.1)


@pytest.fixture(scope="session")
def calm_files(calm_scenario: ScenarioSummary) -> dict[str, Any]:
    """The calm scenario's CSV files, parsed once."""
    return _parse(calm_scenario)


def _parse(summary: ScenarioSummary) -> dict[str, Any]:
    names = (
        "billing-events",
        "invoices",
        "payments",
        "partner-usage",
        "agreements",
        "refunds",
        "credit-notes",
    )
    return {name: read_csv(summary.out / f"{name}.csv") for name in names}


@pytest.fixture(scope="session")
def rich_files(rich_scenario: ScenarioSummary) -> dict[str, Any]:
    """The rich scenario's CSV files, parsed once."""
    return _parse(rich_scenario)
