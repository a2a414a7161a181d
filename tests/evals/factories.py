"""Hand-made case results for the scoring, report and compare tests."""

from __future__ import annotations

from typing import Any

from billing.bundles import ExpectedLabels
from evals.results import CaseResult, DraftCheck, Predicted


def result(case_id: str, expected: str, predicted: str | None, *, route: str | None = "auto",
           expected_route: str = "auto", confidence: float | None = 0.9, action: str | None = None,
           expected_action: str | None = None, reasons: list[str] | None = None, second: str | None = None,
           status: str = "triaged", draft: DraftCheck | None = None, **extra: Any) -> CaseResult:
    return CaseResult(
        case_id=case_id, source=f"{case_id}.json",
        expected=ExpectedLabels(category=expected, route=expected_route, action=expected_action,  # type: ignore[arg-type]
                                second_category=second),  # type: ignore[arg-type]
        predicted=Predicted(status=status, route=route, category=predicted, action=action, confidence=confidence,
                            route_reasons=reasons or []),
        draft=draft, **extra)
