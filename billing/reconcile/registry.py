"""The list of rules and the run that applies them for a period.

A rule module exposes `RULE: str` and `find(session, period) -> Iterable[Finding]`; it uses
set-based SQL (GROUP BY / joins), never Python loops over raw rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from billing.db import transaction
from billing.reconcile.findings import ApplyStats, Finding, apply_findings

RuleFn = Callable[[Session, str], Iterable[Finding]]
RULES: dict[str, RuleFn] = {}


def register(module: ModuleType) -> None:
    """Add a rule module (with `RULE` and `find`) to the registry."""
    RULES[module.RULE] = module.find


@dataclass
class RunReport:
    period: str
    per_rule: dict[str, ApplyStats]


def reconcile_period(engine: Engine, period: str, rules: Iterable[str] | None = None) -> RunReport:
    """Run the rules for one period in one transaction: all of it lands, or none of it."""
    chosen = list(rules) if rules is not None else sorted(RULES)
    unknown = [r for r in chosen if r not in RULES]
    if unknown:
        raise KeyError(f"unknown rule(s) {unknown}; known: {sorted(RULES)}")
    report = RunReport(period=period, per_rule={})
    with transaction(engine) as session:
        for name in chosen:
            findings = list(RULES[name](session, period))
            report.per_rule[name] = apply_findings(session, rule=name, period=period, findings=findings)
    return report
