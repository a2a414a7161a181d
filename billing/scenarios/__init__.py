"""Scenario generator: realistic, deterministic months of marketplace and direct billing with
injected faults and their ground truth (`truth.jsonl`)."""

from billing.scenarios.scenario import DEFAULT_FAULT_RATE, ScenarioSummary, generate_scenario
from billing.scenarios.truth import TruthMatch, match_truth
from billing.scenarios.truth_model import TruthEntry, read_truth

__all__ = [
    "DEFAULT_FAULT_RATE",
    "ScenarioSummary",
    "TruthEntry",
    "TruthMatch",
    "generate_scenario",
    "match_truth",
    "read_truth",
]
