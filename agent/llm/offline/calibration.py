"""Turning a raw diagnosis score into a probability that the category is right.

The map is fitted, not asserted: isotonic regression (pool-adjacent-violators) of
"was the category right" on the raw score, over library cases whose truth is known
(`triage library build` fits it and writes `calibration.json`). Between fitted points the
map interpolates linearly; it is monotone, so a higher raw score never means less confidence.
Below the lowest score it was fitted on, it gives the raw score (capped by the lowest fitted rate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Calibrator:
    """A monotone piecewise-linear map from raw score to probability."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    fitted_on: int = 0  # how many labelled cases the map was fitted on
    lowest: float | None = None  # the lowest raw score it was fitted on (knots sit at pooled means)

    def __call__(self, raw: float) -> float:
        if not self.xs:
            return float(min(max(raw, 0.0), 1.0))
        if raw < (self.lowest if self.lowest is not None else self.xs[0]):
            # Below every fitted score there is no data: never more confident than the raw score
            # (a flat extension would lift a case with nothing supported to the lowest fitted rate).
            return float(min(max(raw, 0.0), self.ys[0]))
        return float(np.interp(raw, self.xs, self.ys))

    def to_json(self) -> str:
        return json.dumps({"xs": list(self.xs), "ys": list(self.ys), "fitted_on": self.fitted_on,
                           "lowest": self.lowest}, indent=1)

    @classmethod
    def load(cls, path: Path) -> Calibrator:
        """Read a fitted map; the identity map when the file does not exist yet."""
        if not path.exists():
            return cls((), ())
        data = json.loads(path.read_text())
        return cls(tuple(data["xs"]), tuple(data["ys"]), int(data.get("fitted_on", 0)), data.get("lowest"))


def fit_isotonic(scores: list[float], correct: list[bool], *, prior_weight: float = 2.0) -> Calibrator:
    """Fit a monotone map from raw scores to the observed accuracy.

    A small prior (towards the raw score itself) keeps sparse bins from jumping to 0 or 1.
    """
    if len(scores) != len(correct):
        raise ValueError("scores and outcomes differ in length")
    if not scores:
        return Calibrator((), ())
    order = np.argsort(scores, kind="stable")
    x = np.asarray(scores, dtype=float)[order]
    y = np.asarray(correct, dtype=float)[order]
    # Pool identical scores first, with the prior mixed in.
    ux, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=y) + prior_weight * ux
    weights = np.bincount(inverse).astype(float) + prior_weight
    means = list(sums / weights)
    w = list(weights)
    xs = [[v] for v in ux]
    # Pool adjacent violators.
    i = 0
    while i < len(means) - 1:
        if means[i] > means[i + 1]:
            total = w[i] + w[i + 1]
            means[i] = (means[i] * w[i] + means[i + 1] * w[i + 1]) / total
            w[i] = total
            xs[i] = xs[i] + xs[i + 1]
            del means[i + 1], w[i + 1], xs[i + 1]
            i = max(i - 1, 0)
        else:
            i += 1
    knots_x: list[float] = []
    knots_y: list[float] = []
    for block, mean in zip(xs, means, strict=True):
        knots_x.append(float(np.mean(block)))
        knots_y.append(float(mean))
    return Calibrator(tuple(knots_x), tuple(knots_y), fitted_on=len(scores), lowest=float(x[0]))
