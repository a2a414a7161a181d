"""Expected labels for exported bundles, from a generated scenario's ground truth (`truth.jsonl`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from billing.bundles.labels import ExpectedLabels
from billing.db import transaction
from billing.scenarios.truth import match_truth
from billing.scenarios.truth_model import TruthEntry, read_truth


def expected_from_truth(entry: TruthEntry, rule: str | None = None) -> ExpectedLabels:
    """The labels a fault of the ground truth gives the exception (of `rule`) it explains.

    With two causes, an exception raised by a rule only the second cause trips is labelled
    with that cause."""
    category, action, escalate_to = entry.labels_for(rule or "")
    return ExpectedLabels(category=category, route=entry.route, action=action,
                          escalate_to=escalate_to, why=entry.note or None,
                          second_category=entry.second_category, fault_id=entry.fault_id)


def labels_from_truth(engine: Engine, truth_path: str | Path) -> dict[int, ExpectedLabels]:
    """Exception id → expected labels, for every open exception a fault of `truth_path` explains
    (`billing.scenarios.truth.match_truth`); exceptions no fault explains get none."""
    entries = read_truth(Path(truth_path))
    with transaction(engine) as session:
        matched = match_truth(session, entries)
    return {exception_id: expected_from_truth(entry, matched.exceptions[exception_id].rule)
            for exception_id, entry in matched.items()}
