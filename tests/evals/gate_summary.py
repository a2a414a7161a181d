"""Lines the gate test wants in pytest's terminal summary (kept in the config's stash).

In a module of its own so that the conftest hook and the test share one stash key (a conftest
imported by name would be a second module with a second key)."""

from __future__ import annotations

import pytest

GATE_LINES = pytest.StashKey[list[str]]()


def record_gate_line(config: pytest.Config, line: str) -> None:
    """Keep a line for the terminal summary (shown with or without -s)."""
    config.stash.setdefault(GATE_LINES, []).append(line)


def gate_lines(config: pytest.Config) -> list[str]:
    return config.stash.get(GATE_LINES, [])
