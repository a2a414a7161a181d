"""The CI gate: thresholds per case set kept in the repo (`evals/thresholds.yaml`), checked on a run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.identity import REPO_ROOT

THRESHOLDS_FILE = REPO_ROOT / "evals" / "thresholds.yaml"


class ThresholdsError(ValueError):
    """A thresholds file that cannot be read; the message names the file and the field."""


class KnownShortfall(BaseModel):
    """A target missed on purpose-built evidence, recorded rather than hidden."""

    model_config = ConfigDict(extra="forbid")

    floor: float
    why: str


class SetThresholds(BaseModel):
    """The bars one case set must clear: `min` figures to reach, `max` figures not to exceed."""

    model_config = ConfigDict(extra="forbid")

    cases: Path
    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)
    # Targets not met yet, written down with the measured figure and why: the gate holds the
    # measured figure as a floor (no regression) while the target stays in `min`/`max`, and
    # every run prints the miss. Remove the entry once the target is met.
    known_shortfalls: dict[str, KnownShortfall] = Field(default_factory=dict)


class GateFailure(BaseModel):
    """One metric on the wrong side of its bar, and by how much."""

    metric: str
    value: float | None
    bound: float
    kind: str  # "min" or "max"

    @property
    def shortfall(self) -> float | None:
        if self.value is None:
            return None
        return self.bound - self.value if self.kind == "min" else self.value - self.bound

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.metric}: no value (nothing to score), needs {'≥' if self.kind == 'min' else '≤'} {self.bound:g}"
        sign = "<" if self.kind == "min" else ">"
        return f"{self.metric} {self.value:.4g} {sign} {self.bound:g} (off by {self.shortfall:.4g})"


def load_thresholds(path: Path = THRESHOLDS_FILE) -> dict[str, SetThresholds]:
    """Every set's thresholds; `cases` paths are taken relative to the repository root."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ThresholdsError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise ThresholdsError(f"{path}: expected a mapping of case-set names to thresholds")
    sets: dict[str, SetThresholds] = {}
    for name, body in data.items():
        try:
            one = SetThresholds.model_validate(body)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ThresholdsError(f"{path}: {name}: {problems}") from None
        sets[str(name)] = one.model_copy(update={"cases": one.cases if one.cases.is_absolute() else REPO_ROOT / one.cases})
    return sets


def check_thresholds(headline: Mapping[str, Any], thresholds: SetThresholds) -> list[GateFailure]:
    """The metrics of `headline` that miss their bar (empty: the gate passes). A missing or None
    metric fails: a gate that cannot measure must not pass."""
    failures: list[GateFailure] = []
    for kind, bounds in (("min", thresholds.min), ("max", thresholds.max)):
        for metric, bound in bounds.items():
            raw = headline.get(metric)
            value = None if raw is None else float(raw)
            known = thresholds.known_shortfalls.get(metric)
            if known is not None:
                bound = known.floor
            if value is None or (value < bound if kind == "min" else value > bound):
                failures.append(GateFailure(metric=metric, value=value, bound=bound, kind=kind))
    return failures


def missed_targets(headline: Mapping[str, Any], thresholds: SetThresholds) -> list[str]:
    """The known shortfalls of a run, in words: the target, the figure, and why."""
    lines = []
    for metric, known in thresholds.known_shortfalls.items():
        target = thresholds.min.get(metric, thresholds.max.get(metric))
        lines.append(f"TARGET MISSED {metric}: {headline.get(metric)} vs target {target} "
                     f"(floor {known.floor}): {known.why}")
    return lines
